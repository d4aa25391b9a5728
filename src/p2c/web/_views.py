"""What the pages show of a project: its template, schedule and where it stands, last run,
queued errors; built from the service and the admin center's queries."""

from __future__ import annotations

__all__ = ["ProjectSummary", "queries_of", "summaries"]

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from p2c.service import Service
from p2c.web._queries import ProjectRun, WebQueries


@dataclass(frozen=True)
class ProjectSummary:
    name: str
    template: str
    connection_set: str
    schedule: str | None
    paused: bool
    paused_reason: str | None
    paused_in_yaml: bool
    next_run: datetime | None
    last: ProjectRun | None
    queued: int
    running_run: str | None

    @property
    def status(self) -> str | None:
        if self.running_run is not None:
            return "Running"
        return self.last.status if self.last else None


def queries_of(request: Request) -> WebQueries:
    queries: WebQueries = request.app.state.web_queries
    return queries


def summaries(
    service: Service, queries: WebQueries, names: list[str] | None = None
) -> list[ProjectSummary]:
    """The workspace's projects (or those named), in p2c.yaml's order."""
    projects = [p for p in service.ws.config.projects if names is None or p.name in names]
    last = queries.last_runs([p.name for p in projects])
    queued = queries.queue_sizes()
    states = service.store.schedules()
    running = service.running()
    result = []
    for project in projects:
        state = states.get(project.name)
        schedule = project.schedule
        in_yaml = bool(schedule and schedule.paused)
        paused = in_yaml or bool(state and state.paused)
        reason = "paused: true in p2c.yaml" if in_yaml else (state.paused_reason if state else None)
        live = service.scheduler.states.get(project.name)
        next_run = None if paused or schedule is None or live is None else live.next_due_at
        job = running.get(project.name)
        result.append(
            ProjectSummary(
                project.name,
                project.template,
                project.connection_set,
                schedule.describe() if schedule else None,
                paused,
                reason if paused else None,
                in_yaml,
                next_run,
                last.get(project.name),
                queued.get(project.name, 0),
                job.key if job is not None else None,
            )
        )
    return result
