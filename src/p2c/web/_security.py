"""Sessions, roles and CSRF for the admin center's pages.

The session is Starlette's signed cookie (itsdangerous): HttpOnly, SameSite=Lax, Secure
when the service is served over TLS. It holds the user's name, their ``session_epoch``
(a password or role change, or removal, ends older sessions) and a CSRF token. Every
unsafe request (POST, PUT, PATCH, DELETE) carries the token in the ``csrf_token`` form
field or the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on the body); a
request without it is refused 403.
"""

from __future__ import annotations

__all__ = [
    "Admin",
    "Forbidden",
    "Operator",
    "SignInRequired",
    "Viewer",
    "check_csrf",
    "csrf_token",
    "current_user",
    "require",
    "service_of",
    "users_of",
]

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from p2c.service import Role, Service
from p2c.web._users import ENTRA_PREFIX, User, UserStore

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class Forbidden(Exception):
    """Signed in, but the role is too low (403) or the CSRF token is missing (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def users_of(request: Request) -> UserStore:
    users: UserStore = request.app.state.web_users
    return users


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (no session, removed, or a password or role change
    since)."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, User):
        return cached
    name = request.session.get("user")
    if not isinstance(name, str):
        return None
    user = users_of(request).find(name)
    entra_off = getattr(request.app.state, "web_entra", None) is None
    if (
        user is None
        or user.session_epoch != request.session.get("epoch")
        or (entra_off and user.name.startswith(ENTRA_PREFIX))  # Entra sign-in taken away
    ):
        request.session.pop("user", None)
        request.session.pop("epoch", None)
        return None
    request.state.user = user
    return user


def require(role: Role) -> Callable[[Request], Awaitable[User]]:
    """A dependency: the signed-in user, whose role is ``role`` or above.

    Raises (to the handlers of :func:`p2c.web.mount_web`):
        SignInRequired: no valid session (a page redirects to the sign-in form).
        Forbidden: the role is too low (403).
    """

    async def signed_in(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise SignInRequired()
        if not user.allows(role):
            raise Forbidden(f"This needs the {role} role; you are {user.role}.")
        return user

    return signed_in


async def check_csrf(request: Request) -> None:
    """A dependency on every router of the admin center: an unsafe request must carry the
    session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).

    Raises:
        Forbidden: it does not (403).
    """
    if request.method not in _UNSAFE:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or not given
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise Forbidden(
            "The form was refused: its security token is missing or out of date. "
            "Reload the page and try again."
        )


Viewer = Annotated[User, Depends(require("viewer"))]
Operator = Annotated[User, Depends(require("operator"))]
Admin = Annotated[User, Depends(require("admin"))]
