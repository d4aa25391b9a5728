"""The state database's tables (SQLAlchemy Core), shared by the state store and the lock.

SCHEMA_VERSION changes whenever a table changes. A database of an earlier version is
brought up to date when it is opened (columns added; version 5 moved lineage into a table
of its own, see ``_state.py``); one of another version is refused with a clear message
instead of failing half way through a run.
"""

from __future__ import annotations

__all__ = [
    "MIGRATES_FROM",
    "SCHEMA_VERSION",
    "UTCDateTime",
    "error_queue_table",
    "lineage_leg_table",
    "lineage_table",
    "lock_table",
    "metadata",
    "record_error_table",
    "run_table",
    "schema_table",
    "task_cursor_table",
    "task_run_table",
]

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

SCHEMA_VERSION = "5"
# Versions a database is brought up from: by adding the columns it lacks (all nullable) and,
# before 5, by moving its lineage into ``record_lineage``.
MIGRATES_FROM = ("2", "3", "4")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _leg_key() -> list[sa.Column[str]]:
    return [
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("leg", sa.String(100), primary_key=True),
    ]


metadata = sa.MetaData()
schema_table = sa.Table(
    "p2c_schema",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)
run_table = sa.Table(
    "run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False, index=True),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("projects", sa.Text, nullable=False),
    # incremental, full or retry
    sa.Column("mode", sa.String(20), nullable=False, default="incremental"),
    # Added in version 3 (nullable, so older databases take them as they are):
    # what started the run: command, retry, schedule, api:<token name>
    sa.Column("started_by", sa.String(200)),
    # why the run ended as it did, when that is not its tasks' outcome (cancelled, crashed,
    # its process gone)
    sa.Column("message", sa.Text),
    # who runs it, and when it last committed something: a run whose process is gone is
    # marked when history is read or its lock is taken over
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", UTCDateTime),
)
task_run_table = sa.Table(
    "task_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("leg", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("read", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
)
# Every failure of every run: the history behind `p2c errors RUN`.
record_error_table = sa.Table(
    "record_error",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
    sa.Column("task_run_id", sa.Integer, sa.ForeignKey("task_run.id"), nullable=False),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("source_key", sa.String(400), nullable=False),
    sa.Column("destination_key", sa.String(400)),
    sa.Column("field", sa.String(200)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False, default=False),
    # The record's name where the mapped values tell it (schema 4): the admin center shows it.
    sa.Column("record_name", sa.String(400)),
)
# The records that failed and have not been written since: kept until they are fixed,
# whatever the retention of the history.
error_queue_table = sa.Table(
    "error_queue",
    metadata,
    *_leg_key(),
    sa.Column("source_key", sa.String(400), primary_key=True),
    sa.Column("destination_key", sa.String(400)),
    sa.Column("field", sa.String(200)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_run_id", sa.Integer, nullable=False),
    sa.Column("last_run_id", sa.Integer, nullable=False, index=True),
    sa.Column("failed_at", UTCDateTime, nullable=False),
)
# The task legs that have lineage, each by a number: a lineage row names its leg by that
# number rather than by its three names, which keeps the table and its key less than half
# the size (the names were most of a row, and all of the key but the source key).
lineage_leg_table = sa.Table(
    "lineage_leg",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("leg", sa.String(100), nullable=False),
    sa.UniqueConstraint("project", "task", "leg", name="uq_lineage_leg"),
)
# Which source record produced which destination record, and a digest of the values last
# acknowledged, so that a record whose mapped values did not change is not written again.
lineage_table = sa.Table(
    "record_lineage",
    metadata,
    sa.Column(
        "leg_id",
        sa.Integer,
        sa.ForeignKey("lineage_leg.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("source_key", sa.String(400), primary_key=True),
    sa.Column("source_entity", sa.String(100), nullable=False),
    sa.Column("destination_entity", sa.String(100), nullable=False),
    sa.Column("destination_key", sa.String(400), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(40)),
)
# Where the next incremental read of a leg starts: after (watermark, last_key).
task_cursor_table = sa.Table(
    "task_cursor",
    metadata,
    *_leg_key(),
    sa.Column("watermark", sa.String(40)),
    sa.Column("last_key", sa.String(400)),
    # The source's change tracking token (a Dataverse delta link), where it offers one.
    sa.Column("delta", sa.Text),
    # A digest of the leg's definition (filter, map, entities): a changed mapping means
    # every record may map differently, so the next run is a full pass.
    sa.Column("definition", sa.String(40), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
lock_table = sa.Table(
    "project_lock",
    metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)
