"""The admin center mounted on the service's ASGI app, next to /api/v1, /healthz and
/metrics."""

from __future__ import annotations

__all__ = ["mount_web"]

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from p2c._errors import NotFoundError, P2CError
from p2c.service import Service
from p2c.web._entra import entra_sign_in
from p2c.web._queries import WebQueries
from p2c.web._render import render
from p2c.web._security import Forbidden, SignInRequired
from p2c.web._session_key import session_secret
from p2c.web._throttle import SignInThrottle
from p2c.web._users import UserStore

SESSION_COOKIE = "p2c_session"
SESSION_HOURS = 12


def _routers() -> list[APIRouter]:
    # Imported here: the pages are loaded only when the admin center is mounted.
    from p2c.web import (
        _admin,
        _catalog,
        _dashboard,
        _editing,
        _entra,
        _project,
        _runs,
        _signin,
    )

    return [
        _signin.router,
        _entra.router,
        _dashboard.router,
        # The editing pages (new project, mapping editor, save as template, schedule
        # editing): p2c.web._editing.router; before the project page, whose
        # /projects/{name} would take /projects/new.
        _editing.router,
        _project.router,
        _runs.router,
        _catalog.router,
        _admin.router,
    ]


def mount_web(app: FastAPI, service: Service, *, secure_cookies: bool = False) -> FastAPI:
    """Add the admin center's pages at ``/`` to ``app`` (the service's API app).

    Args:
        app: The app of :func:`p2c.service.build_api`.
        service: Its service.
        secure_cookies: Mark the session cookie Secure (the service is served over TLS,
            directly or behind a TLS-terminating proxy).

    The session cookie is signed with ``P2C_SESSION_SECRET``, else with the workspace's
    ``.p2c/session.key`` (made on first use, mode 0600), so that sessions outlive a restart.
    With ``admin_center.entra_id`` in p2c.yaml, people can also sign in with Entra ID.

    Raises:
        ConfigError: the session key file is readable by others, not a key, or cannot be
            made; or Entra ID sign-in is configured without its client secret.
    """
    app.state.web_users = UserStore(service.access)
    app.state.web_throttle = SignInThrottle()
    app.state.web_queries = WebQueries(service.store.engine)
    app.state.web_entra = entra_sign_in(service)
    secret = session_secret(service.ws.root)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=secure_cookies,
    )

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _error: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/sign-in?next={quote(target, safe='')}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    api_errors = app.exception_handlers.get(P2CError)

    @app.exception_handler(P2CError)
    async def _p2c_error(request: Request, error: P2CError) -> Response:
        if request.url.path.startswith("/api/") and api_errors is not None:
            answer = api_errors(request, error)
            return answer if isinstance(answer, Response) else await answer
        status = 404 if isinstance(error, NotFoundError) else 400
        context = {"message": error.message, "fix": error.fix}
        return render(request, "problem.html", context, status_code=status)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden) -> Response:
        return render(request, "forbidden.html", {"message": error.message}, status_code=403)

    app.mount("/static", StaticFiles(packages=[("p2c.web", "static")]), name="static")
    for router in _routers():
        app.include_router(router)
    return app
