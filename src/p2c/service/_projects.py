"""Projects as the service sees them: which are scheduled and what they require, a
project's status within a run, and the views the API and the command line show."""

from __future__ import annotations

__all__ = ["project_status", "project_view", "scheduled_projects"]

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from p2c._errors import P2CError
from p2c.service._notify import redact_url
from p2c.service._runner import RunReport
from p2c.service._schedule import ScheduledProject
from p2c.service._store import ScheduleState
from p2c.templates import BUILTIN, TemplateCatalog
from p2c.workspace import Project

_WORST = ("Error", "Cancelled", "Skipped", "Warning", "Completed")


def scheduled_projects(
    projects: Sequence[Project], templates: TemplateCatalog = BUILTIN
) -> list[ScheduledProject]:
    """The projects with a schedule, each with the projects it requires (by template, from
    the workspace's catalog) and its place in prerequisite order."""
    by_template: dict[str, list[str]] = {}
    for project in projects:
        by_template.setdefault(project.template, []).append(project.name)
    requires: dict[str, set[str]] = {}
    for project in projects:
        try:
            needed = templates.get(project.template).requires
        except P2CError:
            needed = []  # an unknown template fails at start, with the reason
        requires[project.name] = {
            provider for name in needed for provider in by_template.get(name, [])
        } - {project.name}
    order: dict[str, int] = {}

    def visit(name: str, path: frozenset[str]) -> None:
        if name in order or name in path:
            return  # a cycle is the engine's to report, at start
        for required in sorted(requires.get(name, ())):
            visit(required, path | {name})
        order[name] = len(order)

    for project in projects:
        visit(project.name, frozenset())
    return [
        ScheduledProject(p.name, p.schedule, frozenset(requires[p.name]), order[p.name])
        for p in projects
        if p.schedule is not None
    ]


def project_status(report: RunReport, project: str) -> tuple[str, int]:
    """A project's status within a run (the worst of its task legs) and its failed records."""
    tasks = [t for t in report.tasks if t["project"] == project]
    failed = sum(t["counts"]["failed"] for t in tasks)
    if report.status in ("Cancelled",) or not tasks:
        return report.status, failed
    statuses = {t["status"] for t in tasks}
    worst = next((s for s in _WORST if s in statuses), "Completed")
    if worst == "Skipped":
        worst = "Error"
    return worst, failed


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def project_view(
    project: Project,
    state: ScheduleState | None,
    *,
    last_status: str | None,
    running: int | None,
) -> dict[str, Any]:
    """A project for the API: template, schedule and where it stands, notifications (the
    webhook by host only: its URL may hold a secret), last status."""
    schedule: dict[str, Any] | None = None
    if project.schedule is not None:
        paused = project.schedule.paused or bool(state and state.paused)
        schedule = {
            "every": project.schedule.every,
            "cron": project.schedule.cron,
            "timezone": project.schedule.timezone,
            "describe": project.schedule.describe(),
            "paused": paused,
            "paused_reason": (
                "paused: true in p2c.yaml"
                if project.schedule.paused
                else (state.paused_reason if state else None)
            ),
            "paused_by": state.paused_by if state else None,
            "next_run": None if paused or state is None else _iso(state.next_due_at),
            "waiting_slot": _iso(state.pending_slot) if state else None,
        }
    notify = None
    if project.notify is not None:
        notify = {
            "on": list(project.notify.on),
            "email": list(project.notify.email),
            "webhook": redact_url(project.notify.webhook) if project.notify.webhook else None,
        }
    return {
        "name": project.name,
        "template": project.template,
        "connection_set": project.connection_set,
        "schedule": schedule,
        "notify": notify,
        "last_status": last_status,
        "running_run": running,
    }
