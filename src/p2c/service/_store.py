"""The service's state: schedules, fired slots, the runs it started, and the counter that
tells a running service that a command line changed a schedule.

Every method is one short transaction; the scheduler keeps its working copy in memory and
writes each change through, so a service killed at any point restarts where it was.
"""

from __future__ import annotations

__all__ = ["ScheduleState", "ServiceStore", "SlotEvent"]

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from p2c.engine import StateStore
from p2c.service._tables import (
    meta_table,
    open_engine,
    schedule_table,
    service_run_table,
    slot_table,
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScheduleState:
    """Where one project's schedule stands."""

    project: str
    definition: str
    next_due_at: datetime | None = None
    pending_slot: datetime | None = None
    paused: bool = False
    paused_reason: str | None = None
    paused_by: str | None = None
    paused_at: datetime | None = None
    alert_since: datetime | None = None

    def with_(self, **changes: Any) -> ScheduleState:
        return replace(self, **changes)


@dataclass(frozen=True)
class SlotEvent:
    """A slot the scheduler fired and what became of it."""

    project: str
    slot_at: datetime
    decided_at: datetime
    outcome: str  # started, waited, skipped, error
    run_id: int | None = None
    detail: str | None = None


_STATE_COLUMNS = (
    "definition",
    "next_due_at",
    "pending_slot",
    "paused",
    "paused_reason",
    "paused_by",
    "paused_at",
    "alert_since",
)
_SAVED = ("definition", "next_due_at", "pending_slot")


class ServiceStore:
    """The service's tables in the state database at ``url``."""

    def __init__(self, url: str) -> None:
        # The engine's tables first: it refuses a database that has tables but not its own
        # (and brings one of its previous schema up to date).
        self.state = StateStore(url)
        self.url = url
        self.engine = open_engine(url)
        self.host = socket.gethostname()

    def close(self) -> None:
        self.engine.dispose()
        self.state.close()

    # schedule state -------------------------------------------------------------------------

    def schedules(self) -> dict[str, ScheduleState]:
        with self.engine.connect() as db:
            rows = db.execute(schedule_table.select()).all()
        return {
            r.project: ScheduleState(r.project, *(getattr(r, c) for c in _STATE_COLUMNS))
            for r in rows
        }

    def save(self, states: Iterable[ScheduleState]) -> None:
        """Write where schedules stand (next slot, pending slot), in one transaction. Pauses
        are written only by :meth:`set_paused`, so a pause made elsewhere is never
        overwritten by the service's working copy."""
        now = _now()
        states = list(states)
        if not states:
            return
        with self.engine.begin() as db:
            for state in states:
                values = {c: getattr(state, c) for c in _SAVED}
                updated = db.execute(
                    schedule_table.update()
                    .where(schedule_table.c.project == state.project)
                    .values(**values, updated_at=now)
                )
                if not updated.rowcount:
                    db.execute(
                        schedule_table.insert().values(
                            project=state.project, **values, updated_at=now
                        )
                    )

    def forget(self, projects: Iterable[str]) -> None:
        names = list(projects)
        if names:
            with self.engine.begin() as db:
                db.execute(schedule_table.delete().where(schedule_table.c.project.in_(names)))

    def set_paused(
        self,
        project: str,
        paused: bool,
        *,
        reason: str | None,
        actor: str,
        at: datetime | None = None,
    ) -> None:
        """Pause or resume a project's schedule (from the API, the command line or an alert).

        Resuming also restarts the alert's error count, so that old errors do not pause the
        project again at once. A running service sees the change at its next wake-up.
        """
        now = at or _now()
        values: dict[str, Any] = (
            {"paused": True, "paused_reason": reason, "paused_by": actor, "paused_at": now}
            if paused
            else {
                "paused": False,
                "paused_reason": None,
                "paused_by": None,
                "paused_at": None,
                "alert_since": now,
            }
        )
        with self.engine.begin() as db:
            updated = db.execute(
                schedule_table.update()
                .where(schedule_table.c.project == project)
                .values(**values, updated_at=now)
            )
            if not updated.rowcount:
                db.execute(
                    schedule_table.insert().values(
                        project=project, definition="", **values, updated_at=now
                    )
                )
            self._bump(db)

    def version(self) -> int:
        """A counter raised by every pause and resume: the service rereads schedules when it
        moves."""
        with self.engine.connect() as db:
            value = db.execute(
                sa.select(meta_table.c.value).where(meta_table.c.name == "schedule_version")
            ).scalar()
        return int(value or 0)

    def _bump(self, db: sa.Connection) -> None:
        updated = db.execute(
            meta_table.update()
            .where(meta_table.c.name == "schedule_version")
            .values(value=sa.cast(sa.cast(meta_table.c.value, sa.Integer) + 1, sa.String))
        )
        if not updated.rowcount:
            db.execute(meta_table.insert().values(name="schedule_version", value="1"))

    # slots ----------------------------------------------------------------------------------

    def add_slots(self, events: Iterable[SlotEvent]) -> None:
        rows = [vars(e) for e in events]
        if rows:
            with self.engine.begin() as db:
                db.execute(slot_table.insert(), rows)

    def slots(self, project: str | None = None, limit: int = 20) -> list[SlotEvent]:
        """The latest slot events, newest first."""
        query = slot_table.select().order_by(slot_table.c.id.desc()).limit(limit)
        if project is not None:
            query = query.where(slot_table.c.project == project)
        with self.engine.connect() as db:
            return [
                SlotEvent(r.project, r.slot_at, r.decided_at, r.outcome, r.run_id, r.detail)
                for r in db.execute(query)
            ]

    def purge_slots(self, older_than: datetime) -> None:
        with self.engine.begin() as db:
            db.execute(slot_table.delete().where(slot_table.c.decided_at < older_than))
            db.execute(
                service_run_table.delete().where(service_run_table.c.started_at < older_than)
            )

    # runs the service started -----------------------------------------------------------------

    def run_started(
        self,
        run_id: int,
        projects: Sequence[str],
        started_by: str,
        slot_at: datetime | None,
        at: datetime,
    ) -> None:
        with self.engine.begin() as db:
            db.execute(
                service_run_table.insert(),
                [
                    {
                        "run_id": run_id,
                        "project": project,
                        "started_by": started_by,
                        "host": self.host,
                        "pid": os.getpid(),
                        "slot_at": slot_at,
                        "started_at": at,
                        "status": "Running",
                        "failed": 0,
                    }
                    for project in projects
                ],
            )

    def run_finished(
        self, run_id: int, outcomes: Mapping[str, tuple[str, int]], at: datetime
    ) -> None:
        """Record how a run ended per project: (status, failed records)."""
        with self.engine.begin() as db:
            for project, (status, failed) in outcomes.items():
                db.execute(
                    service_run_table.update()
                    .where(
                        service_run_table.c.run_id == run_id,
                        service_run_table.c.project == project,
                    )
                    .values(status=status, failed=failed, finished_at=at)
                )

    def unfinished_runs(self) -> list[sa.Row[Any]]:
        """Runs the service started and never saw end (its process was killed)."""
        with self.engine.connect() as db:
            return list(
                db.execute(
                    service_run_table.select().where(service_run_table.c.finished_at.is_(None))
                )
            )

    def started_by(self, run_ids: Iterable[int]) -> dict[int, str]:
        ids = list(run_ids)
        if not ids:
            return {}
        with self.engine.connect() as db:
            return {
                r.run_id: r.started_by
                for r in db.execute(
                    sa.select(service_run_table.c.run_id, service_run_table.c.started_by).where(
                        service_run_table.c.run_id.in_(ids)
                    )
                )
            }

    def errors_since(self, project: str, since: datetime) -> int:
        """Failed records (and runs that failed to start or ended in Error without a failed
        record, one each) of a project's service runs finished since ``since``."""
        t = service_run_table
        with self.engine.connect() as db:
            value = db.execute(
                sa.select(
                    sa.func.coalesce(
                        sa.func.sum(
                            sa.case(
                                (sa.and_(t.c.failed == 0, t.c.status == "Error"), 1),
                                else_=t.c.failed,
                            )
                        ),
                        0,
                    )
                ).where(t.c.project == project, t.c.finished_at >= since)
            ).scalar()
        return int(value or 0)
