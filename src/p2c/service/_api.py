"""The REST API (``/api/v1``), ``/healthz`` and ``/metrics``: a thin face over the service.

Every ``/api/v1`` call needs ``Authorization: Bearer <token>`` (401 without a valid one,
403 for a role too low: viewer reads, operator also starts runs, retries and pauses,
admin also reads the audit log). Every write is recorded in the audit log with the
token's name. Runs are listed newest first a keyset page at a time (``before`` = the last
id of the previous page).
"""

from __future__ import annotations

__all__ = ["build_api", "run_document"]

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from p2c._errors import ConfigError, NotFoundError, P2CError, ProjectBusy
from p2c.service._access import Role, TokenInfo
from p2c.service._projects import project_view
from p2c.service._runner import RetrySelection, RunRequest
from p2c.service._service import Job, Service

API = "/api/v1"
_STATUS = {NotFoundError: 404, ConfigError: 400, ProjectBusy: 409}
_EVENT_POLL = 0.25


class RunBody(BaseModel):
    """Options of a run started through the API."""

    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False
    full: bool = False


class RetryBody(BaseModel):
    """Which queued failed records to retry: ``records`` (source keys) or ``all``."""

    model_config = ConfigDict(extra="forbid")
    records: list[str] = Field(default_factory=list, max_length=10_000)
    all: bool = False
    project: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RetryBody:
        if bool(self.records) == self.all:
            raise ValueError('give either "records": [...] or "all": true')
        return self


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class RunsPage(BaseModel):
    """A page of runs: each with id, status, projects, mode, times, started_by, counts."""

    runs: list[dict[str, Any]]
    next: str | None


class Accepted(BaseModel):
    id: str | None
    status: str
    url: str | None
    events: str | None


def build_api(service: Service) -> FastAPI:
    """The ASGI app of a service."""
    app = FastAPI(
        title="p2c",
        summary="Prospect-to-cash integration service: projects, runs, errors, schedules.",
        version="1",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(_Measure, service=service)

    @app.exception_handler(P2CError)
    async def _p2c_error(_request: Request, error: P2CError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 500)
        return JSONResponse({"detail": error.message, "fix": error.fix}, status_code=status)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness: no authentication."""
        return {"status": "ok", "runs_in_progress": len(service.running())}

    @app.get("/metrics", tags=["service"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics (``p2c_*``)."""
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router, prefix=API)
    return app


def _role(role: Role) -> Callable[[Request], Awaitable[TokenInfo]]:
    # Async, as the quick reads: no thread hop per request (the token is cached).
    async def check(request: Request) -> TokenInfo:
        service: Service = request.app.state.service
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        info = service.access.verify(token.strip()) if scheme.lower() == "bearer" else None
        if info is None:
            raise HTTPException(
                401,
                "A valid API token is needed: Authorization: Bearer <token>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not info.allows(role):
            raise HTTPException(403, f"This needs the {role} role; the token is {info.role}.")
        return info

    return check


Viewer = Annotated[TokenInfo, Depends(_role("viewer"))]
Operator = Annotated[TokenInfo, Depends(_role("operator"))]
Admin = Annotated[TokenInfo, Depends(_role("admin"))]


async def _current(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(_current)]
router = APIRouter()


@router.get("/projects", tags=["projects"])
def projects(service: ServiceDep, _who: Viewer) -> dict[str, Any]:
    """The workspace's projects with schedule, notifications and last status."""
    return {"projects": [_project(service, p.name) for p in service.ws.config.projects]}


@router.get("/projects/{name}", tags=["projects"])
def project(service: ServiceDep, name: str, _who: Viewer) -> dict[str, Any]:
    """A project, its recent schedule slots and runs."""
    view = _project(service, name)
    view["slots"] = [
        {
            "slot": _iso(s.slot_at),
            "decided_at": _iso(s.decided_at),
            "outcome": s.outcome,
            "run_id": s.run_id,
            "detail": s.detail,
        }
        for s in service.store.slots(name, limit=20)
    ]
    view["runs"] = service.history.last_runs(name, 10)
    return view


@router.post("/projects/{name}/runs", status_code=202, tags=["runs"])
def start_run(
    service: ServiceDep, name: str, who: Operator, body: RunBody | None = None
) -> Accepted:
    """Start a run of a project (``dry_run``, ``full``); answers with its id at once."""
    body = body or RunBody()
    service.ws.project(name)
    actor = f"api:{who.name}"
    job = service.submit(RunRequest((name,), actor, full=body.full, dry_run=body.dry_run))
    service.access.audit(
        actor,
        "run.start",
        name,
        {"run_id": job.key, "dry_run": body.dry_run, "full": body.full},
    )
    return _accepted(job)


@router.get("/runs", tags=["runs"], response_model=RunsPage)
async def runs(
    service: ServiceDep,
    request: Request,
    _who: Viewer,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    project: str | None = None,
    status: str | None = None,
) -> JSONResponse:
    """Runs, newest first, a keyset page at a time (by run id, so a page costs the same
    however long the history); ``next`` is the URL of the next page."""
    page = service.history.runs(limit=limit, before=before, project=project, status=status)
    following = None
    if page.next_before is not None:
        following = str(request.url.include_query_params(before=page.next_before))
    # Plain JSON: the rows are JSON already, and a page is the API's busiest answer.
    return JSONResponse({"runs": page.runs, "next": following})


@router.get("/runs/{run_id}", tags=["runs"])
async def run(service: ServiceDep, run_id: str, _who: Viewer) -> dict[str, Any]:
    """A run: status, per task and leg counts, who started it (``dry-N``: a dry run)."""
    return run_document(service, run_id)


@router.get("/runs/{run_id}/errors", tags=["runs"])
def run_errors(
    service: ServiceDep,
    run_id: int,
    _who: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A run's failed records: record key, field, reason; page with ``after``."""
    if service.history.status(run_id) is None:
        raise NotFoundError(f"There is no run {run_id}.")
    errors = service.history.errors(run_id, limit=limit, after=after)
    return {"errors": errors, "after": errors[-1]["id"] if len(errors) == limit else None}


@router.get("/runs/{run_id}/events", tags=["runs"], response_class=StreamingResponse)
def run_events(service: ServiceDep, run_id: str, _who: Viewer) -> StreamingResponse:
    """The run's progress as server-sent events (``task``, ``progress``, ``task-end``,
    ``end``); a run that has ended sends ``end`` at once."""
    run_document(service, run_id)  # 404 for an unknown run
    return StreamingResponse(
        _events(service, run_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/errors", tags=["errors"])
def error_queue(
    service: ServiceDep,
    _who: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    project: str | None = None,
) -> dict[str, Any]:
    """The error queue: failed records not written since."""
    rows, total = service.history.queue(limit=limit, offset=offset, project=project)
    return {"errors": rows, "total": total}


@router.post("/errors/retry", status_code=202, tags=["errors"])
def retry(service: ServiceDep, body: RetryBody, who: Operator) -> Accepted:
    """Read queued failed records again and write them (after a fix)."""
    rows, _ = service.history.queue(limit=100_000, project=body.project)
    wanted = set(body.records)
    chosen = [r for r in rows if body.all or r["record"] in wanted]
    if not chosen:
        raise NotFoundError(
            "No failed record in the error queue matches.", fix="GET /api/v1/errors"
        )
    projects = tuple(sorted({r["project"] for r in chosen}))
    actor = f"api:{who.name}"
    selection = RetrySelection(tuple(body.records), body.all)
    job = service.submit(RunRequest(projects, actor, retry=selection))
    service.access.audit(
        actor,
        "errors.retry",
        ", ".join(projects),
        {"run_id": job.key, "records": len(chosen), "all": body.all},
    )
    return _accepted(job)


@router.post("/projects/{name}/schedule/pause", tags=["schedules"])
def pause(
    service: ServiceDep, name: str, who: Operator, body: PauseBody | None = None
) -> dict[str, Any]:
    """Hold the project's schedule."""
    service.pause(name, f"api:{who.name}", body.reason if body else None)
    return _project(service, name)


@router.post("/projects/{name}/schedule/resume", tags=["schedules"])
def resume(service: ServiceDep, name: str, who: Operator) -> dict[str, Any]:
    """Let the schedule run again from its next slot (clears an alert's pause)."""
    service.resume(name, f"api:{who.name}")
    return _project(service, name)


@router.get("/audit", tags=["service"])
def audit(
    service: ServiceDep,
    _who: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Who changed what, newest first (admin)."""
    entries = service.access.audit_log(limit, before)
    return {"entries": [{**vars(e), "at": _iso(e.at)} for e in entries]}


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _project(service: Service, name: str) -> dict[str, Any]:
    settings = service.ws.project(name)
    running = service.running().get(name)
    return project_view(
        settings,
        service.scheduler.states.get(name),
        last_status=service.history.last_status(name),
        running=running.run_id if running else None,
    )


def _with_started_by(service: Service, run: dict[str, Any]) -> dict[str, Any]:
    if run.get("started_by") in (None, "command"):
        run["started_by"] = service.store.started_by([run["id"]]).get(run["id"], "command")
    return run


def run_document(service: Service, key: str) -> dict[str, Any]:
    """A run as the API answers it: a run of the history by id, or a dry run (``dry-N``) of
    this service, marked ``dry_run``."""
    if key.startswith("dry-"):
        job = service.dry_run(key)
        if job is None:
            raise NotFoundError(f"There is no dry run {key} (the last 50 are kept).")
        report = job.report
        return {
            "id": key,
            "dry_run": True,
            "status": "Running" if report is None else report.status,
            "projects": list(job.request.projects),
            "started_by": job.request.started_by,
            "counts": report.counts if report else None,
            "tasks": report.tasks if report else [],
            "reason": report.reason if report else None,
        }
    if not key.isdigit():
        raise NotFoundError(f"There is no run {key!r}.", fix="a run id is a number, or dry-N")
    found = service.history.run(int(key))
    if found is None:
        raise NotFoundError(f"There is no run {key}.", fix="the Execution history lists runs")
    return _with_started_by(service, found)


def _accepted(job: Job) -> Accepted:
    url = f"{API}/runs/{job.key}" if job.key else None
    status = "Running" if job.report is None else job.report.status
    return Accepted(id=job.key, status=status, url=url, events=url and f"{url}/events")


async def _events(service: Service, key: str) -> AsyncIterator[str]:
    """Server-sent events of a run: its log while this service runs it; else its status
    from the history until it ends (a run of another process)."""
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
                await asyncio.sleep(_EVENT_POLL)
    last = None
    while True:
        view = await asyncio.to_thread(run_document, service, key)
        if view["status"] != last:
            last = view["status"]
            kind = "end" if last != "Running" else "status"
            yield f"event: {kind}\ndata: {json.dumps(view, default=str)}\n\n"
        if last != "Running":
            return
        await asyncio.sleep(1.0)


class _Measure:
    """Counts and times API requests by route template (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.metrics = service.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        code = 500

        async def sending(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _as_send(sending))
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            if route != "other" and scope["path"].startswith(API):
                route = API + route  # the route of an included router lacks its prefix
            self.metrics.requests.labels(scope.get("method", ""), route, str(code)).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - began)


def _as_send(function: Callable[[Message], Awaitable[None]]) -> Send:
    return function
