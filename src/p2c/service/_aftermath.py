"""What follows a run the service started: the slot's history, metrics, the end of its
event stream, notifications and the threshold alert."""

from __future__ import annotations

__all__ = ["record_slot", "run_ended"]

import time
import typing
from datetime import datetime, timedelta

from p2c.service._notify import Notice
from p2c.service._projects import project_status
from p2c.service._runner import RunReport
from p2c.service._store import SlotEvent

if typing.TYPE_CHECKING:
    from p2c.service._service import Job, Service


def record_slot(
    service: Service, job: Job, outcome: str, run_id: int | None, detail: str | None
) -> None:
    """What became of the schedule slot a job served (nothing for other jobs)."""
    request = job.request
    if request.slot_at is None:
        return
    now = service.clock.now()
    service.store.add_slots(
        [SlotEvent(p, request.slot_at, now, outcome, run_id, detail) for p in request.projects]
    )
    for project in request.projects:
        service.metrics.slots.labels(project, outcome).inc()


def run_ended(service: Service, job: Job, report: RunReport) -> None:
    """Record, count, close the event stream, notify, and check the alert."""
    now = service.clock.now()
    outcomes = {p: project_status(report, p) for p in report.projects}
    if report.run_id is not None and not report.dry_run:
        service.store.run_finished(report.run_id, outcomes, now)
    seconds = time.monotonic() - job.began
    metrics = service.metrics
    for project, (status, _) in outcomes.items():
        metrics.runs.labels(project, status).inc()
        metrics.run_seconds.labels(project).observe(seconds)
        for name, value in report.counts.items():
            if value and len(report.projects) == 1:
                metrics.records.labels(project, name).inc(value)
    outcome = "error" if report.failed_start else "started"
    record_slot(service, job, outcome, report.run_id, report.reason or job.why)
    if job.key is not None:
        service.events.open(job.key).close(
            {"type": "end", "status": report.status, "reason": report.reason}
        )
    if report.dry_run:
        return
    for project, (status, _) in outcomes.items():
        _notify(service, project, status, report)
        _check_alert(service, project, now)


def _notify(service: Service, project: str, status: str, report: RunReport) -> None:
    settings = next((p for p in service.ws.config.projects if p.name == project), None)
    notify = settings.notify if settings is not None else None
    if notify is None or status.lower() not in notify.on:
        return
    errors = []
    if report.run_id is not None:
        errors = [
            e for e in service.history.errors(report.run_id, limit=50) if e["project"] == project
        ]
    counts = {
        c: sum(t["counts"][c] for t in report.tasks if t["project"] == project)
        for c in report.counts
    }
    notice = Notice(
        "run",
        project,
        status,
        report.run_id,
        counts,
        [{k: e[k] for k in ("record", "field", "reason")} for e in errors[:5]],
        service.notifier.link(report.run_id),
        report.started_by,
        report.reason or _messages(report, project),
    )
    service.notifier.send(notify, notice)


def _check_alert(service: Service, project: str, now: datetime) -> None:
    """Pause the project's schedule once it has had too many errors too quickly."""
    alerts = service.ws.config.alerts
    rule = alerts.pause_after if alerts is not None else None
    scheduler = service.scheduler
    if rule is None or scheduler.paused(project) or project not in scheduler.projects:
        return
    since = now - timedelta(minutes=rule.minutes)
    state = scheduler.states.get(project)
    if state is not None and state.alert_since is not None:
        since = max(since, state.alert_since)
    errors = service.store.errors_since(project, since)
    if errors < rule.errors:
        return
    reason = f"{errors} errors within {rule.minutes} minutes (alerts.pause_after)"
    service.pause(project, "alert", reason)
    service.metrics.alerts.labels(project).inc()
    settings = next((p for p in service.ws.config.projects if p.name == project), None)
    if settings is not None and settings.notify is not None:
        message = f"{reason}; resume: p2c schedule resume {project!r}"
        service.notifier.send(
            settings.notify, Notice("paused", project, "Paused", None, message=message)
        )


def _messages(report: RunReport, project: str) -> str | None:
    texts = [t["message"] for t in report.tasks if t["project"] == project and t.get("message")]
    return "; ".join(texts)[:500] or None
