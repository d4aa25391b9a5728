"""Sign-in with Microsoft Entra ID: OpenID Connect's authorization code flow with PKCE
(authlib's Starlette client), for the app registration that ``admin_center.entra_id`` in
p2c.yaml names.

``/sign-in/entra`` sends the browser to the tenant's authorize endpoint (found by OpenID
discovery at ``{authority}/{tenant}/v2.0/.well-known/openid-configuration``) with a state,
a nonce and an S256 code challenge kept in the signed session; ``/sign-in/entra/callback``
takes the code back, redeems it with the code verifier and the client secret (from the
environment), and checks the id token: its signature by the tenant's published keys, its
issuer, audience, expiry and nonce. The user's name (``preferred_username``, else
``email``) or groups give the role p2c.yaml lists; anyone else is refused. A user who is
let in is the admin center's user ``entra:<name>``, added at the first sign-in.
"""

from __future__ import annotations

__all__ = ["EntraSignIn", "entra_sign_in", "router"]

import logging
import os
import re
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import Request
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from p2c._errors import ConfigError, NotFoundError
from p2c.service import EntraId, Service
from p2c.web._render import render
from p2c.web._routing import web_router
from p2c.web._security import service_of, users_of
from p2c.web._signin import safe_next
from p2c.web._users import ENTRA_PREFIX

router = web_router()
CALLBACK = "/sign-in/entra/callback"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class EntraSignIn:
    """The OpenID Connect client of one app registration."""

    def __init__(self, settings: EntraId, client_secret: str, link: str | None) -> None:
        self.settings = settings
        self.link = link
        # authlib writes the PKCE code verifier at DEBUG: keep its log above that, whatever
        # level the root logger has.
        library = logging.getLogger("authlib")
        if library.level < logging.INFO:
            library.setLevel(logging.INFO)
        self.client: Any = OAuth().register(
            name="entra",
            client_id=settings.client_id,
            client_secret=client_secret,
            server_metadata_url=(
                f"{settings.authority}/{settings.tenant}/v2.0/.well-known/openid-configuration"
            ),
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
        )

    def redirect_uri(self, request: Request) -> str:
        """Where Entra ID sends the browser back: ``redirect_uri`` as given, else the
        service's public link (``notifications.link``), else this request's own address."""
        if self.settings.redirect_uri:
            return self.settings.redirect_uri
        if self.link:
            return self.link + CALLBACK
        return str(request.url_for("sign_in_entra_callback"))


def entra_sign_in(service: Service) -> EntraSignIn | None:
    """The Entra ID sign-in p2c.yaml configures, or None.

    Raises:
        ConfigError: it is configured, and its client secret's variable is not set.
    """
    config = service.ws.config
    settings = config.admin_center.entra_id if config.admin_center else None
    if settings is None:
        return None
    secret = os.environ.get(settings.client_secret_env)
    if not secret:
        raise ConfigError(
            f"Entra ID sign-in needs the app registration's client secret in the environment "
            f"variable {settings.client_secret_env}, which is not set.",
            fix=f"set {settings.client_secret_env} for p2c serve (or remove admin_center.entra_id "
            "from p2c.yaml)",
        )
    link = config.notifications.link if config.notifications else None
    return EntraSignIn(settings, secret, link)


def _entra_of(request: Request) -> EntraSignIn:
    entra: EntraSignIn | None = request.app.state.web_entra
    if entra is None:
        raise NotFoundError(
            "Sign-in with Entra ID is not set up here.",
            fix="sign in with your user name and password, or configure admin_center.entra_id",
        )
    return entra


def _refused(request: Request, message: str, status: int) -> Response:
    context = {"next": "/", "error": message, "name": "", "entra": True}
    return render(request, "sign_in.html", context, status_code=status)


@router.get("/sign-in/entra", name="sign_in_entra")
async def start(request: Request, next: str | None = None) -> Response:
    """Off to Entra ID, with a state, a nonce and a PKCE challenge kept in the session."""
    entra = _entra_of(request)
    request.session["entra_next"] = safe_next(next)
    try:
        answer: Response = await entra.client.authorize_redirect(
            request, entra.redirect_uri(request)
        )
    except (httpx.HTTPError, ValueError, RuntimeError):
        return _refused(
            request,
            f"Entra ID cannot be reached at {entra.settings.authority} just now; try again, "
            "or sign in with a user name and password.",
            502,
        )
    return answer


@router.get(CALLBACK, name="sign_in_entra_callback")
async def callback(request: Request) -> Response:
    """Back from Entra ID: redeem the code, check the id token, let the user in with the
    role p2c.yaml gives them (or refuse)."""
    entra = _entra_of(request)
    try:
        token = await entra.client.authorize_access_token(request)
    except OAuthError as error:
        reason = error.description or error.error or "no reason given"
        return _refused(request, f"Entra ID did not sign you in: {reason}.", 401)
    except JoseError:
        return _refused(
            request,
            "The answer of Entra ID could not be verified (its signature, issuer, audience, "
            "expiry or nonce is wrong); nothing was signed in.",
            401,
        )
    except (httpx.HTTPError, ValueError):
        return _refused(request, "Entra ID cannot be reached just now; try again.", 502)
    claims = token.get("userinfo")
    if not claims:
        return _refused(request, "Entra ID sent no id token; nothing was signed in.", 401)
    return await _let_in(request, entra, dict(claims))


async def _let_in(request: Request, entra: EntraSignIn, claims: dict[str, Any]) -> Response:
    settings = entra.settings
    if _GUID.match(settings.tenant) and claims.get("tid") not in (None, settings.tenant):
        return _refused(request, "That account is of another Entra ID tenant.", 403)
    name = str(claims.get("preferred_username") or claims.get("email") or "").strip().lower()
    groups = [str(g) for g in claims.get("groups") or []]
    role = settings.role_of(name, groups)
    users = users_of(request)
    if not name or role is None:
        who = name or "This account"
        if name and users.find(ENTRA_PREFIX + name) is not None:
            # Taken off the list: their sessions end too.
            await run_in_threadpool(users.remove, ENTRA_PREFIX + name, actor="entra")
        return _refused(
            request,
            f"{who} may not sign in to this admin center: admin_center.entra_id in p2c.yaml "
            "lists who may (ask an administrator).",
            403,
        )
    user = await run_in_threadpool(users.sign_in_entra, name, role)
    target = safe_next(request.session.get("entra_next"))
    audit = service_of(request).access.audit
    await run_in_threadpool(audit, f"web:{user.name}", "user.sign-in", user.name, {"via": "entra"})
    request.session.clear()  # a new session and CSRF token: nothing of before carries over
    request.session["user"] = user.name
    request.session["epoch"] = user.session_epoch
    return RedirectResponse(target, status_code=303)
