"""Dataverse change tracking for the sandbox Sales: every create and update of a tracked
table gets the next version number (as Dataverse's row versions do), so "what changed
since token N" has an exact answer with no timestamp ties.

SQLite triggers keep the log, so every write path (loads, updates, the Prospect-to-cash
plug-ins and upgrade script) is covered. A table is tracked once enabled, as with the
"Track changes" option of a Dataverse table; until then its writes cost nothing extra.
"""

from __future__ import annotations

__all__ = ["ChangeLog"]

from p2c._errors import ConfigError
from p2c.dynamics import Entity
from p2c.sandbox._store import Store

# A rowid key grows with every insert (the log is never deleted from), without the
# bookkeeping of AUTOINCREMENT.
_LOG = (
    "CREATE TABLE IF NOT EXISTS change_log "
    "(version INTEGER PRIMARY KEY, entity TEXT NOT NULL, id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_change_log_entity ON change_log (entity, version)",
)
_EVENTS = ("insert", "update")


class ChangeLog:
    """The change log of one Sales database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enabled(self, entity: Entity) -> bool:
        return self.store.setting(f"change_tracking:{entity.name}") == "on"

    def enable(self, entity: Entity, on: bool = True) -> None:
        db = self.store.db
        with self.store.transaction():
            for statement in _LOG:
                db.execute(statement)
            for event in _EVENTS:
                trigger = f'"log_{entity.name}_{event}"'
                db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
                if on:
                    db.execute(
                        f'CREATE TRIGGER {trigger} AFTER {event.upper()} ON "{entity.name}" '
                        f"BEGIN INSERT INTO change_log (entity, id) "
                        f"VALUES ('{entity.name}', NEW.\"{entity.key[0]}\"); END"
                    )
            self.store.set_setting(f"change_tracking:{entity.name}", "on" if on else "off")

    def log(self, entity: Entity, ids: list[str]) -> None:
        """Log a change no trigger sees (a delete), in the caller's transaction."""
        self.store.db.executemany(
            "INSERT INTO change_log (entity, id) VALUES (?, ?)", [(entity.name, i) for i in ids]
        )

    def token(self) -> str:
        """The current version: changes after it are those not seen yet."""
        return str(self.store.scalar("SELECT max(version) FROM change_log") or 0)

    def since(self, entity: Entity, token: str) -> tuple[list[str], str]:
        """Ids of records of ``entity`` created or changed after ``token``, and the token
        that follows them."""
        if not token.isdigit():
            raise ConfigError(f"{token!r} is not a change tracking token of this Sales.")
        current = self.token()
        rows = self.store.db.execute(
            "SELECT DISTINCT id FROM change_log WHERE entity = ? AND version > ? "
            "AND version <= ? ORDER BY id",
            (entity.name, int(token), int(current)),
        )
        return [r[0] for r in rows], current
