"""The service's own tables, on their own MetaData, in the workspace's state database.

Schedule state (so a restarted service continues where it was), the slots it fired and
what became of each, the runs it started and by whom, API tokens (hashed) and the audit
log of every write. The engine's tables (runs, task runs, errors) are read through
``_history.py`` by their names; nothing here changes them.
"""

from __future__ import annotations

__all__ = [
    "SERVICE_SCHEMA",
    "audit_table",
    "meta_table",
    "metadata",
    "open_engine",
    "schedule_table",
    "service_run_table",
    "slot_table",
    "token_table",
]

from typing import Any

import sqlalchemy as sa

from p2c._errors import ConfigError
from p2c.engine import UTCDateTime

SERVICE_SCHEMA = "1"


metadata = sa.MetaData()
meta_table = sa.Table(
    "service_meta",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)
# One row per scheduled project: where its schedule stands.
schedule_table = sa.Table(
    "service_schedule",
    metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    # The schedule it was computed from: a changed schedule starts over from now.
    sa.Column("definition", sa.String(200), nullable=False),
    sa.Column("next_due_at", UTCDateTime),
    # A slot that came due and waits to start (its project was running, or its prerequisites).
    sa.Column("pending_slot", UTCDateTime),
    sa.Column("paused", sa.Boolean, nullable=False, default=False),
    sa.Column("paused_reason", sa.Text),
    sa.Column("paused_by", sa.String(200)),
    sa.Column("paused_at", UTCDateTime),
    # Errors before this moment do not count towards the threshold alert (set by resume).
    sa.Column("alert_since", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
# Every slot the scheduler fired and what became of it.
slot_table = sa.Table(
    "service_slot",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("slot_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    # started, waited, skipped, error
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Index("ix_service_slot_project", "project", "id"),
)
# The runs the service started: who asked, which process ran it.
service_run_table = sa.Table(
    "service_run",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("slot_at", UTCDateTime),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Index("ix_service_run_project", "project", "finished_at"),
    sa.Index("ix_service_run_open", "finished_at"),
)
token_table = sa.Table(
    "service_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    # sha256 of the token: tokens are 256 random bits, so a fast hash is enough.
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)
audit_table = sa.Table(
    "service_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(400)),
    sa.Column("detail", sa.Text),
)


def _tune_sqlite(connection: Any, _record: Any) -> None:
    """WAL (as the engine's state), and a busy timeout: the service writes its small rows
    while runs commit batches to the same file."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_engine(url: str) -> sa.Engine:
    """An engine on the state database with the service's tables created.

    Raises:
        ConfigError: the database cannot be opened, or has another service schema.
    """
    try:
        engine = sa.create_engine(url, pool_size=20, max_overflow=20, pool_timeout=30)
    except TypeError:  # a pool without sizes (SQLite in memory)
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"Cannot open the state database: {exc.__class__.__name__}.",
            fix="check state.url in p2c.yaml",
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _tune_sqlite)
    with engine.begin() as db:
        metadata.create_all(db)
        version = db.execute(
            sa.select(meta_table.c.value).where(meta_table.c.name == "schema")
        ).scalar()
        if version is None:
            db.execute(meta_table.insert().values(name="schema", value=SERVICE_SCHEMA))
        elif version != SERVICE_SCHEMA:
            raise ConfigError(
                f"The state database has service schema {version}; this p2c uses {SERVICE_SCHEMA}.",
                fix="point state.url at a new database, or use the matching p2c",
            )
    return engine
