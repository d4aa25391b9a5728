"""Sign-in and sign-out."""

from __future__ import annotations

__all__ = ["router", "safe_next"]

import math
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from p2c.web._render import render
from p2c.web._routing import web_router
from p2c.web._security import current_user, service_of, users_of

router = web_router()


def safe_next(target: str | None) -> str:
    """Only a path of this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in", name="sign_in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "sign_in.html", _form(request, next, None, ""))


def _form(request: Request, next: str | None, error: str | None, name: str) -> dict[str, object]:
    """The sign-in form's context; with the Entra ID button when that sign-in is set up."""
    entra = getattr(request.app.state, "web_entra", None) is not None
    return {"next": safe_next(next), "error": error, "name": name, "entra": entra}


@router.post("/sign-in")
def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    throttle = request.app.state.web_throttle
    address = request.client.host if request.client else "unknown"
    keys = (f"name:{name.lower()}", f"ip:{address}")
    wait = throttle.wait(keys)
    if wait > 0:
        message = f"Too many failed sign-ins. Try again in {math.ceil(wait)} seconds."
        context = _form(request, next, message, name)
        return render(request, "sign_in.html", context, status_code=429)
    user = users_of(request).authenticate(name, password)
    if user is None:
        throttle.failed(keys)
        if throttle.wait(keys) > 0:
            service_of(request).access.audit(
                f"web:{address}", "user.sign-in-throttled", name, {"address": address}
            )
        context = _form(request, next, "Wrong name or password.", name)
        return render(request, "sign_in.html", context, status_code=401)
    throttle.succeeded(keys[0])
    request.session.clear()  # a new session and CSRF token: nothing of before carries over
    request.session["user"] = user.name
    request.session["epoch"] = user.session_epoch
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-out", name="sign_out")
def sign_out(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)
