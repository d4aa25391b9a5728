"""The dashboard: every project with its last status colour-coded, last run's counts, next
scheduled run, paused or not; the error queue's size; records per day."""

from __future__ import annotations

__all__ = ["router"]

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from p2c._errors import P2CError
from p2c.service import RunRequest
from p2c.web._chart import day_chart
from p2c.web._render import flash, render
from p2c.web._routing import web_router
from p2c.web._security import Operator, Viewer, service_of
from p2c.web._views import queries_of, summaries

router = web_router()


@router.get("/", name="dashboard")
def dashboard(request: Request, _user: Viewer) -> Response:
    service = service_of(request)
    queries = queries_of(request)
    projects = summaries(service, queries)
    days = queries.per_day(14)
    context = {
        "active": "dashboard",
        "projects": projects,
        "queued": sum(p.queued for p in projects),
        "chart": day_chart(days),
        "days": days,
    }
    return render(request, "dashboard.html", context)


@router.get("/projects", name="projects")
def projects(request: Request, _user: Viewer) -> Response:
    service = service_of(request)
    context = {"active": "projects", "projects": summaries(service, queries_of(request))}
    return render(request, "projects.html", context)


@router.post("/run", name="run_all")
def run_all(request: Request, user: Operator) -> Response:
    """Run every project, prerequisites first (as ``p2c run``)."""
    service = service_of(request)
    names = tuple(p.name for p in service.ws.config.projects)
    actor = f"web:{user.name}"
    try:
        job = service.submit(RunRequest(names, actor))
    except P2CError as error:
        flash(request, error.message + (f" Fix: {error.fix}." if error.fix else ""), "error")
        return RedirectResponse("/", status_code=303)
    service.access.audit(actor, "run.start", ", ".join(names), {"run_id": job.key})
    return RedirectResponse(f"/runs/{job.key}" if job.key else "/", status_code=303)
