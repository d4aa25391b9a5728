"""The Jinja2 environment of the admin center and the helper every page renders with."""

from __future__ import annotations

__all__ = ["environment", "flash", "render", "templates"]

from datetime import UTC, datetime
from typing import Any

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from p2c.web._security import csrf_token, current_user


def _when(moment: datetime | str | None, fallback: str = "") -> str:
    """A moment as ``2026-11-30 10:42 UTC``."""
    if moment is None or moment == "":
        return fallback
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _duration(started: datetime | str | None, finished: datetime | str | None) -> str:
    """How long a run took: ``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    if not started or not finished:
        return ""
    begin, end = _moment(started), _moment(finished)
    seconds = max(0, round((end - begin).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


_COLOUR = {
    "Completed": "green",
    "Warning": "yellow",
    "Error": "red",
    "Cancelled": "red",
    "Skipped": "red",
    "Running": "blue",
}


def _colour(status: str | None) -> str:
    """The Data Integrator's colours: green completed, yellow warning, red error."""
    return _COLOUR.get(status or "", "grey")


environment = jinja2.Environment(
    loader=jinja2.PackageLoader("p2c.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
environment.filters["colour"] = _colour
environment.globals["duration"] = _duration
templates = Jinja2Templates(env=environment)


def _route_names(routes: Any) -> set[str]:
    """The names of routes, those of included routers among them."""
    names: set[str] = set()
    for route in routes:
        name = getattr(route, "name", None)
        if isinstance(name, str):
            names.add(name)
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            names |= _route_names(included.routes)
    return names


def _has_route(request: Request) -> Any:
    def has(name: str) -> bool:
        # By name, not url_path_for: a route with path parameters has no path without them.
        return name in _route_names(request.app.routes)

    return has


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render template ``name`` (which extends ``base.html``) with ``context`` and what
    every page has: ``user`` (or None), ``csrf_token``, ``flashes`` (messages kept in the
    session by :func:`flash`), ``has_route(name)``."""
    page: dict[str, Any] = {
        "user": current_user(request),
        "csrf_token": csrf_token(request),
        "flashes": request.session.pop("flashes", []),
        "has_route": _has_route(request),
        "active": "",
    }
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A message for the next page rendered in this session (after a redirect)."""
    flashes = list(request.session.get("flashes", []))
    flashes.append({"kind": kind, "message": message})
    request.session["flashes"] = flashes[-5:]
