"""A leg's writes through a destination's bulk writer: units of many pages (F&O's data
packages) whose outcome comes later.

The page path commits each page's lineage, errors and cursor when the destination answers
for the page. Here the destination answers for a unit: each page's records are kept in the
state as pending (``_pending.py``) under the unit's ticket, and the cursor the unit reached
with them; when the unit is settled, its lineage, errors and cursor are committed in one
transaction, only for what the destination confirmed. The engine never learns what the
destination does with a unit; it knows tickets, keys and outcomes.
"""

from __future__ import annotations

__all__ = ["BulkWrites"]

from collections.abc import Callable, Sequence

from p2c._errors import ConnectionFailed
from p2c.connectors import BulkWriter, Outcome, Record, Settlement
from p2c.dynamics import WriteStatus
from p2c.engine._pending import PendingRecord, PendingUnits
from p2c.engine._records import Cursor, ErrorRow, LegId, TaskCounts
from p2c.engine._state import StateStore

Written = tuple[str, str, str | None]  # source key, destination key, digest


class BulkWrites:
    """The units of one leg of one run.

    Args:
        writer: The destination's bulk writer.
        state: The state database.
        leg: The leg.
        entities: Source and destination entity.
        run_id: The run.
        task_run_id: The leg's task run.
        counts: The leg's counts, added to as units settle.
        queued: Source keys in the error queue (a written one leaves it).
        heartbeat: Called while waiting for a verdict.
    """

    def __init__(
        self,
        writer: BulkWriter,
        state: StateStore,
        leg: LegId,
        entities: tuple[str, str],
        *,
        run_id: int,
        task_run_id: int,
        counts: TaskCounts,
        queued: set[str],
        heartbeat: Callable[[], None],
    ) -> None:
        self.writer = writer
        self.state = state
        self.pending = PendingUnits(state)
        self.leg = leg
        self.entities = entities
        self.run_id = run_id
        self.task_run_id = task_run_id
        self.counts = counts
        self.queued = queued
        self.heartbeat = heartbeat
        self.ticket: str | None = None
        self.size = 0

    def resume(self) -> list[str]:
        """Settle the units an earlier run left pending (killed while the destination
        worked on them), before anything is read; notes for the task's message."""
        notes = []
        for unit in self.pending.of_leg(self.leg):
            settlement = self.writer.settle(unit.ticket, self.heartbeat)
            if settlement is None:
                self.pending.drop(unit.ticket)
                notes.append(
                    f"unit {unit.ticket} of run {unit.run_id} never reached the destination; "
                    "its records are read and written again"
                )
                continue
            written, failed = self._commit(unit.ticket, settlement, unit.cursor)
            notes.append(
                f"settled unit {unit.ticket} left pending by run {unit.run_id}: "
                f"{written} written, {failed} failed"
            )
        return notes

    def add(
        self,
        records: list[Record],
        keys: Sequence[str],
        digests: Sequence[str],
        new: Sequence[bool],
        cursor: Cursor | None,
    ) -> tuple[list[Written], list[ErrorRow], Cursor | None]:
        """Hand a page to the open unit. Returns what is settled at once (records the writer
        refused or wrote straight away) and the cursor to commit with it: the page's own
        when no unit is open, else None (the unit takes it)."""
        if not records and self.ticket is None:
            return [], [], cursor
        if self.ticket is None:
            self.ticket = self.writer.open()
            self.size = 0
            self.pending.open(self.ticket, self.leg, self.run_id)
        taken = self.writer.add(records, new) if records else []
        written: list[Written] = []
        errors: list[ErrorRow] = []
        pending: list[PendingRecord] = []
        for result, source_key, digest, fresh in zip(taken, keys, digests, new, strict=True):
            if isinstance(result, Outcome):
                self._settled(result, source_key, digest, written, errors)
            else:
                pending.append(PendingRecord(source_key, _text(result), digest, fresh))
        self.pending.add(self.ticket, self.size, pending, cursor)
        self.size += len(pending)
        if self.writer.full:
            self.finish()
        return written, errors, None

    def finish(self) -> None:
        """Submit the open unit and settle it."""
        ticket, self.ticket = self.ticket, None
        if ticket is None:
            return
        self.writer.submit()
        settlement = self.writer.settle(ticket, self.heartbeat)
        if settlement is None:
            # Just handed over, and the destination does not know it: stop here, so that no
            # later unit moves the cursor past these records (the next run writes them).
            raise ConnectionFailed(
                f"The destination does not know unit {ticket}, which was just handed to it.",
                fix="run again: the unit's records are read and written again",
            )
        units = {u.ticket: u for u in self.pending.of_leg(self.leg)}
        unit = units.get(ticket)
        self._commit(ticket, settlement, unit.cursor if unit else None)

    # settling ------------------------------------------------------------------------------------

    def _settled(
        self,
        outcome: Outcome,
        source_key: str,
        digest: str,
        written: list[Written],
        errors: list[ErrorRow],
    ) -> None:
        key = _text(outcome.key)
        if outcome.status == WriteStatus.FAILED:
            message = outcome.message or "rejected"
            errors.append(ErrorRow(source_key, key, outcome.field, message, outcome.retryable))
            return
        self._count(outcome.status)
        written.append((source_key, key, digest))

    def _count(self, status: WriteStatus) -> None:
        if status == WriteStatus.CREATED:
            self.counts.created += 1
        elif status == WriteStatus.UPDATED:
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1

    def _commit(
        self, ticket: str, settlement: Settlement, cursor: Cursor | None
    ) -> tuple[int, int]:
        """Lineage, errors, the error queue and the cursor of a settled unit, in one
        transaction; then the unit is forgotten. Returns (written, failed)."""
        by_key = {_text(k): o for k, o in settlement.outcomes.items()}
        whole = settlement.failed
        written: list[Written] = []
        errors: list[ErrorRow] = []
        for record in self.pending.records(ticket):
            outcome = whole or by_key.get(record.destination_key)
            if outcome is not None and outcome.status == WriteStatus.FAILED:
                errors.append(
                    ErrorRow(
                        record.source_key,
                        record.destination_key,
                        outcome.field,
                        outcome.message or "rejected",
                        outcome.retryable,
                    )
                )
                continue
            if outcome is not None:
                status = outcome.status
            else:
                status = WriteStatus.CREATED if record.new else WriteStatus.UPDATED
            self._count(status)
            written.append((record.source_key, record.destination_key, record.digest))
        self.counts.failed += len(errors)
        self.state.commit_batch(
            self.run_id,
            self.task_run_id,
            self.leg,
            self.entities,
            errors,
            written,
            dequeue=[w[0] for w in written if w[0] in self.queued],
            cursor=cursor,
        )
        self.queued.difference_update(w[0] for w in written)
        self.queued.update(e.source_key for e in errors)
        # A kill between the commit above and this leaves the unit pending: the next run
        # settles it again (lineage is upserted again; its errors are recorded once more).
        self.pending.drop(ticket)
        self.heartbeat()
        return len(written), len(errors)


def _text(key: Sequence[object]) -> str:
    return "/".join(map(str, key))
