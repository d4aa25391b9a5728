"""Units of bulk writes waiting for the destination's verdict, kept in the state database.

A unit (``connectors.BulkWriter``) is known by its ticket (F&O: the data management
execution id) before it is handed to the destination; its records (source key, destination
key, digest, whether p2c wrote it before) and the cursor to save once it is settled are
written here page by page, so memory stays flat and a run killed while the destination
works on the unit finds it on the next run and asks for its outcome instead of writing it
again. The tables are this module's own, created on first use beside the state's.
"""

from __future__ import annotations

__all__ = ["PendingRecord", "PendingUnit", "PendingUnits"]

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from p2c.engine._records import Cursor, LegId
from p2c.engine._state import StateStore
from p2c.engine._tables import UTCDateTime

metadata = sa.MetaData()
pending_unit_table = sa.Table(
    "pending_unit",
    metadata,
    sa.Column("ticket", sa.String(100), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("leg", sa.String(100), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    # The cursor to save when the unit is settled (the last page's), if the pages move it.
    sa.Column("watermark", sa.String(40)),
    sa.Column("last_key", sa.String(400)),
    sa.Column("definition", sa.String(40)),
    sa.Column("delta", sa.Text),
    sa.Column("opened_at", UTCDateTime, nullable=False),
)
pending_record_table = sa.Table(
    "pending_record",
    metadata,
    sa.Column("ticket", sa.String(100), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("source_key", sa.String(400), nullable=False),
    sa.Column("destination_key", sa.String(400), nullable=False),
    sa.Column("digest", sa.String(40)),
    sa.Column("is_new", sa.Boolean, nullable=False),
)
_READ = 20_000


class PendingRecord(NamedTuple):
    source_key: str
    destination_key: str
    digest: str | None
    new: bool


@dataclass(frozen=True)
class PendingUnit:
    ticket: str
    run_id: int
    cursor: Cursor | None
    opened_at: datetime


class PendingUnits:
    """The pending units of a state database.

    Args:
        state: The state store (its engine).
    """

    def __init__(self, state: StateStore) -> None:
        self.engine = state.engine
        metadata.create_all(self.engine)
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert = (
            "INSERT INTO pending_record (ticket, seq, source_key, destination_key, digest, is_new) "
            f"VALUES ({', '.join([mark] * 6)})"
        )

    def open(self, ticket: str, leg: LegId, run_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(
                pending_unit_table.insert().values(
                    ticket=ticket,
                    project=leg.project,
                    task=leg.task,
                    leg=leg.leg,
                    run_id=run_id,
                    opened_at=datetime.now(UTC),
                )
            )

    def add(
        self, ticket: str, start: int, records: Sequence[PendingRecord], cursor: Cursor | None
    ) -> None:
        """A page's records (numbered from ``start``) and, when it moves, the cursor."""
        with self.engine.begin() as db:
            if records:
                db.exec_driver_sql(
                    self._insert,
                    [(ticket, start + i, *r) for i, r in enumerate(records)],
                )
            if cursor is not None:
                db.execute(
                    pending_unit_table.update()
                    .where(pending_unit_table.c.ticket == ticket)
                    .values(
                        watermark=cursor.watermark,
                        last_key=cursor.last_key,
                        definition=cursor.definition,
                        delta=cursor.delta,
                    )
                )

    def of_leg(self, leg: LegId) -> list[PendingUnit]:
        """The leg's pending units, oldest first."""
        t = pending_unit_table
        with self.engine.connect() as db:
            rows = db.execute(t.select().where(leg.where(t)).order_by(t.c.opened_at)).all()
        return [
            PendingUnit(
                r.ticket,
                r.run_id,
                Cursor(r.watermark or "", r.last_key or "", r.definition, r.delta)
                if r.definition is not None
                else None,
                r.opened_at,
            )
            for r in rows
        ]

    def records(self, ticket: str) -> Iterator[PendingRecord]:
        """The unit's records in order, read a part at a time."""
        t = pending_record_table
        seq = -1
        while True:
            with self.engine.connect() as db:
                rows: Sequence[Any] = db.execute(
                    sa.select(t.c.seq, t.c.source_key, t.c.destination_key, t.c.digest, t.c.is_new)
                    .where(t.c.ticket == ticket, t.c.seq > seq)
                    .order_by(t.c.seq)
                    .limit(_READ)
                ).all()
            if not rows:
                return
            for row in rows:
                yield PendingRecord(row[1], row[2], row[3], bool(row[4]))
            seq = rows[-1][0]

    def drop(self, ticket: str) -> None:
        with self.engine.begin() as db:
            db.execute(pending_record_table.delete().where(pending_record_table.c.ticket == ticket))
            db.execute(pending_unit_table.delete().where(pending_unit_table.c.ticket == ticket))
