"""The run page (per task and leg counts, every failed record, Retry selected / Retry all,
live progress), the dry run's preview, the error queue and a record's lineage."""

from __future__ import annotations

__all__ = ["router"]

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.responses import Response

from p2c._errors import P2CError
from p2c.config import record_fix
from p2c.service import RetrySelection, RunRequest, Service, run_document
from p2c.templates import Template
from p2c.web._render import flash, render
from p2c.web._routing import web_router
from p2c.web._security import Operator, Viewer, service_of
from p2c.web._views import queries_of

router = web_router()
ERRORS_PAGE = 200
QUEUE_PAGE = 100
_POLL = 0.25


def _run_view(service: Service, key: str) -> dict[str, Any]:
    """The API's run document, with the dry run's reason as the page's message."""
    run = run_document(service, key)
    if run.setdefault("dry_run", False):
        run["message"] = run.pop("reason")
    return run


def add_fixes(service: Service, errors: list[dict[str, Any]]) -> None:
    """Put each failed record's fix in ``error["fix"]``: from its reason and the field's
    mapping in its project's effective template (``p2c.config.record_fix``)."""
    templates: dict[str, Template | None] = {}
    if errors:
        service.reload()  # p2c.yaml as it is now (a fix names the mapping of today)
    for error in errors:
        if not error.get("queued", True):
            error["fix"] = "Nothing: the record has been written since."
            continue
        project = error["project"]
        if project not in templates:
            templates[project] = _effective(service, project)
        template = templates[project]
        if template is None:
            error["fix"] = (
                f"The project {project} is no longer in p2c.yaml: add it again to retry "
                "this record, or leave it."
            )
            continue
        error["fix"] = record_fix(
            template,
            error["task"],
            error.get("leg"),
            error["field"],
            error["reason"],
            retryable=error["retryable"],
        )


def _effective(service: Service, project: str) -> Template | None:
    try:
        return service.ws.project(project).effective_template(service.ws.templates)
    except P2CError:
        return None


@router.get("/runs/{key}", name="run")
def run_page(
    request: Request,
    key: str,
    _user: Viewer,
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    service = service_of(request)
    run = _run_view(service, key)
    errors: list[dict[str, Any]] = []
    if not run["dry_run"]:
        errors = queries_of(request).run_errors(int(key), after=after, limit=ERRORS_PAGE)
        add_fixes(service, errors)
    context = {
        "active": "projects",
        "run": run,
        "key": key,
        "errors": errors,
        "after": after,
        "following": errors[-1]["id"] if len(errors) == ERRORS_PAGE else None,
        "retryable": any(e["queued"] for e in errors),
    }
    return render(request, "run.html", context)


@router.post("/runs/{key}/retry", name="run_retry")
def retry(
    request: Request,
    key: str,
    user: Operator,
    records: Annotated[list[str] | None, Form()] = None,
    all: Annotated[bool, Form()] = False,
) -> Response:
    """Retry selected (the checked records) or Retry all (every queued record of the run's
    projects)."""
    service = service_of(request)
    run = _run_view(service, key)
    chosen = [] if all else list(records or [])
    if not all and not chosen:
        flash(request, "Select the records to retry first (or Retry all).", "error")
        return RedirectResponse(f"/runs/{key}", status_code=303)
    projects = tuple(run["projects"])
    actor = f"web:{user.name}"
    try:
        job = service.submit(RunRequest(projects, actor, retry=RetrySelection(tuple(chosen), all)))
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
        return RedirectResponse(f"/runs/{key}", status_code=303)
    service.access.audit(
        actor,
        "errors.retry",
        ", ".join(projects),
        {"run_id": job.key, "records": len(chosen), "all": all, "from_run": key},
    )
    if job.key is None:
        reason = job.report.reason if job.report else None
        flash(request, f"The retry did not start: {reason or 'nothing to retry'}.", "error")
        return RedirectResponse(f"/runs/{key}", status_code=303)
    return RedirectResponse(f"/runs/{job.key}", status_code=303)


@router.get("/runs/{key}/events", name="run_events")
def run_events(request: Request, key: str, _user: Viewer) -> StreamingResponse:
    """The run's progress as server-sent events (``task``, ``progress``, ``task-end``,
    ``end``) from the service's run events; a run that ended sends ``end`` at once."""
    service = service_of(request)
    _run_view(service, key)  # 404 for an unknown run
    return StreamingResponse(
        _events(service, key),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(service: Service, key: str) -> AsyncIterator[str]:
    log = service.events.get(key)
    if log is not None:
        index = 0
        while True:
            events, done = log.since(index)
            index += len(events)
            for event in events:
                yield f"event: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n"
            if done and not events:
                return
            if not events:
                await asyncio.sleep(_POLL)
    # A run of another process, or one this service no longer keeps: its status until it ends.
    while True:
        view = await asyncio.to_thread(_run_view, service, key)
        if view["status"] != "Running":
            yield f"event: end\ndata: {json.dumps({'status': view['status']})}\n\n"
            return
        await asyncio.sleep(1.0)


@router.get("/errors", name="errors")
def error_queue(
    request: Request,
    _user: Viewer,
    project: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The error queue: failed records not written since."""
    service = service_of(request)
    rows, total = service.history.queue(limit=QUEUE_PAGE, offset=offset, project=project)
    add_fixes(service, rows)
    context = {
        "active": "errors",
        "rows": rows,
        "total": total,
        "project": project,
        "offset": offset,
        "page": QUEUE_PAGE,
        "projects": [p.name for p in service.ws.config.projects],
    }
    return render(request, "errors.html", context)


@router.post("/errors/retry", name="errors_retry")
def retry_queue(
    request: Request,
    user: Operator,
    records: Annotated[list[str] | None, Form()] = None,
    all: Annotated[bool, Form()] = False,
    project: Annotated[str, Form()] = "",
) -> Response:
    service = service_of(request)
    projects = (project,) if project else tuple(p.name for p in service.ws.config.projects)
    chosen = [] if all else list(records or [])
    if not all and not chosen:
        flash(request, "Select the records to retry first (or Retry all).", "error")
        return RedirectResponse("/errors", status_code=303)
    actor = f"web:{user.name}"
    try:
        job = service.submit(RunRequest(projects, actor, retry=RetrySelection(tuple(chosen), all)))
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
        return RedirectResponse("/errors", status_code=303)
    service.access.audit(
        actor, "errors.retry", ", ".join(projects), {"run_id": job.key, "all": all}
    )
    return RedirectResponse(f"/runs/{job.key}" if job.key else "/errors", status_code=303)


@router.get("/lineage", name="lineage")
def lineage(request: Request, _user: Viewer, key: str) -> Response:
    """Where a source record went: source key → destination key, per task and leg."""
    rows = queries_of(request).lineage(key)
    return render(request, "lineage.html", {"active": "errors", "key": key, "rows": rows})
