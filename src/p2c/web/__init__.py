"""The admin center: the web pages of ``p2c serve`` at ``/`` (Jinja2 + htmx, no build step).

For page modules (the editing pages among them), what to build on:

- Routers: ``web_router()`` gives an ``APIRouter`` whose every unsafe request (POST, PUT,
  PATCH, DELETE) is checked by ``check_csrf`` (403 without the session's token). Include a
  new router in ``_app._routers()`` (the editing pages: ``_editing.router``, already there).
- The signed-in user with a minimum role: the dependency ``require("viewer" | "operator" |
  "admin")``, or the annotated parameters ``Viewer``, ``Operator``, ``Admin``
  (``def page(request: Request, user: Admin) -> Response``). No session: a redirect to the
  sign-in form; a role too low: 403. Roles: a viewer reads; an operator also runs, retries,
  pauses and resumes; an admin also edits mappings, projects and users.
- The CSRF check: ``check_csrf`` (already on every ``web_router()``). Forms put
  ``{{ csrf() }}`` (from ``_macros.html``) or ``<input type="hidden" name="csrf_token"
  value="{{ csrf_token }}">`` in; htmx requests send it from the ``hx-headers`` of
  ``<body>``.
- Rendering: ``render(request, "page.html", {...}, status_code=200)`` with the Jinja2
  ``environment`` (templates in ``p2c/web/templates/``, autoescaped); each page has
  ``user``, ``csrf_token``, ``flashes``, ``has_route(name)`` and ``active`` (the nav entry
  to mark). ``flash(request, message, kind="info"|"ok"|"error")`` keeps a message for the
  next page (after a redirect, 303).
- The base template ``base.html`` has the blocks ``title``, ``heading`` (the h1; the
  title by default), ``page_actions`` (buttons in the upper right, such as New project),
  ``head``, ``content`` and ``scripts``. ``_macros.html``: ``status``, ``counts``,
  ``csrf``, ``project_link``. The project page (``project.html``) has the block
  ``task_actions`` per task and ``mapping_actions`` (where the mapping editor's buttons
  go) and ``schedule_actions`` on the Scheduling tab.
- Audit: ``service_of(request).access.audit(f"web:{user.name}", action, target, detail)``.
- Users: ``UserStore`` (argon2id hashes in the state database, table ``web_user``);
  ``p2c users`` manages them.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from p2c.web._app import mount_web
    from p2c.web._render import environment, flash, render
    from p2c.web._routing import web_router
    from p2c.web._security import (
        Admin,
        Forbidden,
        Operator,
        SignInRequired,
        Viewer,
        check_csrf,
        current_user,
        require,
        service_of,
    )
    from p2c.web._throttle import SignInThrottle
    from p2c.web._users import MIN_PASSWORD, User, UserStore

__all__ = [
    "MIN_PASSWORD",
    "Admin",
    "Forbidden",
    "Operator",
    "SignInRequired",
    "SignInThrottle",
    "User",
    "UserStore",
    "Viewer",
    "check_csrf",
    "current_user",
    "environment",
    "flash",
    "mount_web",
    "render",
    "require",
    "service_of",
    "web_router",
]

_LAZY = {
    "mount_web": "_app",
    "environment": "_render",
    "flash": "_render",
    "render": "_render",
    "web_router": "_routing",
    "Admin": "_security",
    "Forbidden": "_security",
    "Operator": "_security",
    "SignInRequired": "_security",
    "Viewer": "_security",
    "check_csrf": "_security",
    "current_user": "_security",
    "require": "_security",
    "service_of": "_security",
    "SignInThrottle": "_throttle",
    "MIN_PASSWORD": "_users",
    "User": "_users",
    "UserStore": "_users",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'p2c.web' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"p2c.web.{module}"), name)
    globals()[name] = value
    return value
