"""Connection sets (each connection, never a secret; Test connection with the explanation
``p2c connections test`` gives) and Templates (built-in and saved, read-only mappings)."""

from __future__ import annotations

__all__ = ["router"]

from typing import Any

from fastapi import Request
from starlette.responses import Response

from p2c._errors import P2CError
from p2c.config import check_organizations
from p2c.connectors import System, check_connection, connection_label
from p2c.templates import BUILTIN
from p2c.web._mapping import task_views
from p2c.web._render import render
from p2c.web._routing import web_router
from p2c.web._security import Operator, Viewer, service_of

router = web_router()
_SYSTEMS: tuple[System, ...] = ("sales", "finops", "cds")
_SECRET_WORDS = ("secret", "password", "token", "key")


def _setting(name: str, value: Any) -> str:
    """A setting as shown: where a secret comes from, never a secret itself."""
    if name.endswith("_env"):
        return f"environment variable {value} (its value is not shown)"
    if name.endswith("_file") and any(w in name for w in _SECRET_WORDS):
        return f"file {value} (its content is not shown)"
    if any(w in name for w in _SECRET_WORDS):
        return "(not shown)"
    return str(value)


def _connections(request: Request) -> list[dict[str, Any]]:
    ws = service_of(request).ws
    found = []
    for set_name, connections in ws.config.connection_sets.items():
        systems = []
        for system in _SYSTEMS:
            connection = getattr(connections, system)
            if connection is None:
                continue
            settings = connection.model_dump(exclude_none=True)
            systems.append(
                {
                    "system": system,
                    "label": connection_label(connection, system, set_name),
                    "type": settings.pop("type", ""),
                    "settings": [(k, _setting(k, v)) for k, v in settings.items()],
                }
            )
        found.append(
            {
                "name": set_name,
                "systems": systems,
                "organizations": [o.model_dump() for o in connections.organizations],
                "projects": [p.name for p in ws.config.projects if p.connection_set == set_name],
            }
        )
    return found


@router.get("/connections", name="connections")
def connections(request: Request, _user: Viewer) -> Response:
    context = {"active": "connections", "sets": _connections(request), "results": None}
    return render(request, "connections.html", context)


@router.post("/connections/{name}/test", name="connection_test")
def test_connection(request: Request, name: str, _user: Operator) -> Response:
    """Sign in to each connection of the set and read once; then look for the business
    units and legal entities of its organization mappings (as `p2c connections test`)."""
    ws = service_of(request).ws
    connections = ws.connection_set(name)
    results = []
    for system in _SYSTEMS:
        connection = getattr(connections, system)
        if connection is not None:
            check = check_connection(connection, system, ws.root, name)
            results.append(
                {"ok": check.ok, "label": check.label, "message": check.message, "fix": check.fix}
            )
    if all(r["ok"] for r in results):
        try:
            check_organizations(ws, [name])
            results.append(
                {
                    "ok": True,
                    "label": "organization mappings",
                    "message": "every business unit and legal entity exists",
                    "fix": None,
                }
            )
        except P2CError as error:
            results.append(
                {
                    "ok": False,
                    "label": "organization mappings",
                    "message": error.message,
                    "fix": error.fix,
                }
            )
    context = {"name": name, "results": results}
    if request.headers.get("hx-request"):
        return render(request, "_connection_results.html", context)
    page = {"active": "connections", "sets": _connections(request), **context}
    return render(request, "connections.html", page)


@router.get("/templates", name="templates")
def templates_page(request: Request, _user: Viewer) -> Response:
    ws = service_of(request).ws
    builtin = set(BUILTIN.all())
    shown = [
        {
            "name": name,
            "builtin": name in builtin,
            "template": template,
            "tasks": task_views(template),
            "projects": [p.name for p in ws.config.projects if p.template == name],
        }
        for name, template in sorted(ws.templates.all().items())
    ]
    return render(request, "templates.html", {"active": "templates", "templates": shown})
