"""Admin pages: Users (add, change role, set password, remove) and the Audit log."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from p2c._errors import P2CError
from p2c.service import ROLES
from p2c.web._render import flash, render
from p2c.web._routing import web_router
from p2c.web._security import Admin, service_of, users_of

router = web_router()
AUDIT_PAGE = 100


def _done(request: Request, message: str) -> Response:
    flash(request, message, "ok")
    return RedirectResponse("/users", status_code=303)


def _refused(request: Request, error: P2CError) -> Response:
    flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
    return RedirectResponse("/users", status_code=303)


@router.get("/users", name="users")
def users(request: Request, _user: Admin) -> Response:
    context = {"active": "users", "users": users_of(request).users(), "roles": ROLES}
    return render(request, "users.html", context)


@router.post("/users", name="user_add")
def add_user(
    request: Request,
    user: Admin,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        users_of(request).add(name, role, password, actor=f"web:{user.name}")
    except P2CError as error:
        return _refused(request, error)
    return _done(request, f"Added user {name} ({role}).")


@router.post("/users/{name}/role", name="user_role")
def set_role(
    request: Request, name: str, user: Admin, role: Annotated[str, Form(max_length=20)]
) -> Response:
    if name == user.name and role != "admin":
        flash(request, "You cannot take the admin role from yourself.", "error")
        return RedirectResponse("/users", status_code=303)
    try:
        users_of(request).set_role(name, role, actor=f"web:{user.name}")
    except P2CError as error:
        return _refused(request, error)
    return _done(request, f"{name} is now {role}.")


@router.post("/users/{name}/password", name="user_password")
def set_password(
    request: Request, name: str, user: Admin, password: Annotated[str, Form(max_length=1000)]
) -> Response:
    try:
        users_of(request).set_password(name, password, actor=f"web:{user.name}")
    except P2CError as error:
        return _refused(request, error)
    if name == user.name:  # the session of one's own must follow the new epoch
        request.session["epoch"] = users_of(request).get(name).session_epoch
    return _done(request, f"Set the password of {name}; their other sessions have ended.")


@router.post("/users/{name}/remove", name="user_remove")
def remove_user(request: Request, name: str, user: Admin) -> Response:
    if name == user.name:
        flash(request, "You cannot remove yourself.", "error")
        return RedirectResponse("/users", status_code=303)
    try:
        users_of(request).remove(name, actor=f"web:{user.name}")
    except P2CError as error:
        return _refused(request, error)
    return _done(request, f"Removed user {name}.")


@router.get("/audit", name="audit")
def audit(
    request: Request, _user: Admin, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """Who changed what, newest first."""
    entries = service_of(request).access.audit_log(AUDIT_PAGE, before)
    following = entries[-1].id if len(entries) == AUDIT_PAGE else None
    context = {"active": "audit", "entries": entries, "following": following, "before": before}
    return render(request, "audit.html", context)
