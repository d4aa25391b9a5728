"""Dataverse change tracking for the sandbox Sales: every create and update of a tracked
table gets the next version number (as Dataverse's row versions do), so "what changed
since token N" has an exact answer with no timestamp ties.

SQLite triggers keep the log, so every write path (loads, updates, the Prospect-to-cash
plug-ins and upgrade script) is covered. Whether a table offers change tracking to readers
is a setting, off until enabled, as the "Track changes" option of a Dataverse table is.
"""

from __future__ import annotations

__all__ = ["ChangeLog"]

from collections.abc import Iterable

from p2c._errors import ConfigError
from p2c.sandbox._schema import Entity
from p2c.sandbox._store import Store

_TABLE = "change_log"


def ddl(entities: Iterable[Entity]) -> list[str]:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {_TABLE} "
        "(version INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, id TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{_TABLE}_entity ON {_TABLE} (entity, version)",
    ]
    for entity in entities:
        key = entity.key[0]
        for event in ("INSERT", "UPDATE"):
            statements.append(
                f'CREATE TRIGGER IF NOT EXISTS "log_{entity.name}_{event.lower()}" '
                f'AFTER {event} ON "{entity.name}" BEGIN '
                f"INSERT INTO {_TABLE} (entity, id) VALUES ('{entity.name}', NEW.\"{key}\"); END"
            )
    return statements


class ChangeLog:
    """The change log of one Sales database."""

    def __init__(self, store: Store, entities: Iterable[Entity]) -> None:
        self.store = store
        exists = store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
        ).fetchone()
        if not exists:
            with store.transaction():
                for statement in ddl(entities):
                    store.db.execute(statement)

    def enabled(self, entity: Entity) -> bool:
        return self.store.setting(f"change_tracking:{entity.name}") == "on"

    def enable(self, entity: Entity, on: bool = True) -> None:
        with self.store.transaction():
            self.store.set_setting(f"change_tracking:{entity.name}", "on" if on else "off")

    def token(self) -> str:
        """The current version: changes after it are those not seen yet."""
        row = self.store.db.execute(f"SELECT max(version) FROM {_TABLE}").fetchone()
        return str(row[0] or 0)

    def since(self, entity: Entity, token: str) -> tuple[list[str], str]:
        """Ids of records of ``entity`` created or changed after ``token``, and the token
        that follows them."""
        if not token.isdigit():
            raise ConfigError(f"{token!r} is not a change tracking token of this Sales.")
        current = self.token()
        rows = self.store.db.execute(
            f"SELECT DISTINCT id FROM {_TABLE} WHERE entity = ? AND version > ? "
            "AND version <= ? ORDER BY id",
            (entity.name, int(token), int(current)),
        )
        return [r[0] for r in rows], current
