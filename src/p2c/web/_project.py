"""The project page: its tasks and mappings, the Scheduling tab, the Execution history
tab; Run now, Dry run, pause and resume."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from p2c._errors import P2CError
from p2c.service import RunRequest, Service
from p2c.web._mapping import task_views
from p2c.web._render import flash, render
from p2c.web._routing import web_router
from p2c.web._security import Operator, Viewer, service_of
from p2c.web._users import User
from p2c.web._views import queries_of, summaries

router = web_router()
HISTORY_DAYS = 45
HISTORY_PAGE = 25


def _path(name: str, tab: str = "") -> str:
    return f"/projects/{quote(name, safe='')}" + (f"/{tab}" if tab else "")


def _context(request: Request, name: str, tab: str) -> dict[str, object]:
    service = service_of(request)
    project = service.ws.project(name)
    (summary,) = summaries(service, queries_of(request), [name])
    return {
        "active": "projects",
        "project": project,
        "summary": summary,
        "tab": tab,
        "base": _path(name),
    }


@router.get("/projects/{name}", name="project")
def project_page(request: Request, name: str, _user: Viewer) -> Response:
    context = _context(request, name, "tasks")
    service = service_of(request)
    project = service.ws.project(name)
    effective = project.effective_template(service.ws.templates)
    try:
        base = service.ws.templates.get(project.template)
    except P2CError:
        base = None
    context["tasks"] = task_views(effective, base)
    context["requires"] = effective.requires
    return render(request, "project.html", context)


@router.get("/projects/{name}/scheduling", name="project_scheduling")
def scheduling(request: Request, name: str, _user: Viewer) -> Response:
    context = _context(request, name, "scheduling")
    service = service_of(request)
    context["slots"] = service.store.slots(name, limit=20)
    return render(request, "project_scheduling.html", context)


@router.get("/projects/{name}/history", name="project_history")
def history(
    request: Request,
    name: str,
    _user: Viewer,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    context = _context(request, name, "history")
    runs, following = queries_of(request).history(
        name, before=before, limit=HISTORY_PAGE, days=HISTORY_DAYS
    )
    context.update(runs=runs, following=following, before=before, days=HISTORY_DAYS)
    return render(request, "project_history.html", context)


def _start(service: Service, user: User, name: str, dry_run: bool, full: bool) -> str:
    service.ws.project(name)
    actor = f"web:{user.name}"
    job = service.submit(RunRequest((name,), actor, full=full, dry_run=dry_run))
    service.access.audit(
        actor, "run.start", name, {"run_id": job.key, "dry_run": dry_run, "full": full}
    )
    return job.key or ""


@router.post("/projects/{name}/run", name="project_run")
def run_now(
    request: Request,
    name: str,
    user: Operator,
    dry_run: Annotated[bool, Form()] = False,
    full: Annotated[bool, Form()] = False,
) -> Response:
    """Run now (or a dry run): the run page follows its progress."""
    service = service_of(request)
    try:
        key = _start(service, user, name, dry_run, full)
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
        return RedirectResponse(_path(name), status_code=303)
    if not key:
        flash(request, "The run ended before it had an id.", "error")
        return RedirectResponse(_path(name, "history"), status_code=303)
    return RedirectResponse(f"/runs/{key}", status_code=303)


@router.post("/projects/{name}/pause", name="project_pause")
def pause(
    request: Request,
    name: str,
    user: Operator,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        service_of(request).pause(name, f"web:{user.name}", reason or None)
        flash(request, "The schedule is paused.", "ok")
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
    return RedirectResponse(_path(name, "scheduling"), status_code=303)


@router.post("/projects/{name}/resume", name="project_resume")
def resume(request: Request, name: str, user: Operator) -> Response:
    try:
        service_of(request).resume(name, f"web:{user.name}")
        flash(request, "The schedule runs again from its next slot.", "ok")
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
    return RedirectResponse(_path(name, "scheduling"), status_code=303)
