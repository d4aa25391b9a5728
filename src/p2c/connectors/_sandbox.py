"""Connectors to the in-process sandbox, the embedded default, and its connection type.

A ``sandbox`` connection is a SQLite file per system, called in-process; a dry run writes to
a scratch copy of it, so the sandbox's own rules say what would be rejected.
"""

from __future__ import annotations

__all__ = ["SANDBOX", "SandboxDestination", "SandboxSource", "SandboxType"]

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path

from p2c._errors import ConfigError
from p2c.connectors._base import (
    Changes,
    Destination,
    Outcome,
    ReadRequest,
    Record,
    Row,
    Source,
)
from p2c.connectors._config import SandboxConnection
from p2c.connectors._kind import ConnectionType, DryRun, System
from p2c.dynamics import SALES, Entity
from p2c.sandbox import (
    CDSHub,
    FinOpsSandbox,
    SalesSandbox,
    UpgradeReport,
    count,
    select,
    select_rows,
)

Store = SalesSandbox | FinOpsSandbox | CDSHub


class SandboxSource(Source):
    """Reads a sandbox system with the filter and lookups pushed down into SQL."""

    def __init__(self, system: Store) -> None:
        self.system = system

    def read(self, request: ReadRequest) -> Iterator[list[Record]]:
        return self.system.query(
            request.entity,
            request.columns,
            request.lookups,
            request.filter,
            request.page_size,
            order_by=request.order_by,
        )

    def read_rows(self, request: ReadRequest) -> Iterator[list[Row]]:
        """The rows as the sandbox holds them: no record is made."""
        entity, visible, resolve = self._entity(request.entity)
        return select_rows(
            self.system.store,
            entity,
            columns=request.columns,
            lookups=request.lookups,
            where=request.filter,
            visible=visible,
            resolve=resolve,
            page_size=request.page_size,
            order=[(column, False) for column in request.order_by],
        )

    def last(self, request: ReadRequest) -> Record | None:
        """One query that walks the order's index backwards (``LIMIT 1``)."""
        entity, visible, resolve = self._entity(request.entity)
        pages = select(
            self.system.store,
            entity,
            columns=request.columns,
            lookups=request.lookups,
            where=request.filter,
            visible=visible,
            resolve=resolve,
            order=[(column, True) for column in request.order_by or entity.key],
            limit=1,
        )
        return next((page[0] for page in pages if page), None)

    def count(self, request: ReadRequest) -> int:
        entity, visible, resolve = self._entity(request.entity)
        return count(
            self.system.store, entity, where=request.filter, visible=visible, resolve=resolve
        )

    def _entity(self, name: str) -> tuple[Entity, set[str], Callable[[str], Entity]]:
        """An entity read, its columns that exist, and how its lookups' targets are found."""
        system = self.system
        if isinstance(system, SalesSandbox):
            entity = SALES.entity(name)
            return entity, system.visible_columns(entity), SALES.entity
        entity = system.entity(name)
        return entity, {f.name for f in entity.fields}, system.entity

    def record_key(self, entity: str) -> tuple[str, ...]:
        if isinstance(self.system, SalesSandbox):
            return SALES.entity(entity).key
        return self.system.entity(entity).key

    def watermark(self, entity: str) -> str | None:
        if isinstance(self.system, SalesSandbox):
            return "modifiedon" if "modifiedon" in SALES.entity(entity).by_name else None
        return self.system.entity(entity).modified_field

    def changes(self, entity: str, token: str | None) -> Changes | None:
        if not isinstance(self.system, SalesSandbox):
            return None
        meta = SALES.entity(entity)
        log = self.system.changes
        if not log.enabled(meta):
            return None
        if token is None:
            return Changes([], log.token())
        ids, current = log.since(meta, token)
        return Changes([(i,) for i in ids], current)

    def close(self) -> None:
        self.system.close()


class SandboxDestination(Destination):
    """Upserts into the sandbox F&O or CDS, through their validation rules."""

    def __init__(self, system: FinOpsSandbox | CDSHub, *, set_wise: bool = True) -> None:
        self.system = system
        self.set_wise = set_wise

    def upsert(
        self,
        entity: str,
        key: Sequence[str],
        records: list[Record],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        # The sandbox looks every batch up on the key index at once: no use for the hint.
        return self._write(entity, key, records, dry_run=False)

    def upsert_rows(
        self,
        entity: str,
        key: Sequence[str],
        fields: Sequence[str],
        rows: list[Row],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        """The rows go into the set-wise page as they are; records are made only for the
        per-record path."""
        self._check_key(entity, key)
        return self.system.upsert_rows(entity, fields, rows, set_wise=self.set_wise)

    def preview(self, entity: str, key: Sequence[str], records: list[Record]) -> list[Outcome]:
        return self._write(entity, key, records, dry_run=True)

    def _check_key(self, entity: str, key: Sequence[str]) -> None:
        declared = self.system.entity(entity).key
        if tuple(key) != declared:
            raise ValueError(f"{entity} is keyed by {declared}, not {tuple(key)}")

    def _write(
        self, entity: str, key: Sequence[str], records: list[Record], *, dry_run: bool
    ) -> list[Outcome]:
        self._check_key(entity, key)
        return self.system.upsert(entity, records, dry_run=dry_run, set_wise=self.set_wise)

    def close(self) -> None:
        self.system.close()


class SandboxType(ConnectionType[SandboxConnection]):
    """``type: sandbox``: Sales, F&O or the CDS hub of the local sandbox, in-process."""

    name = "sandbox"
    config = SandboxConnection
    systems = ("sales", "finops", "cds")
    writes = ("finops", "cds")
    dry_run = DryRun.SCRATCH_COPY

    def where(self, connection: SandboxConnection) -> str:
        return connection.path

    def sandbox_path(self, connection: SandboxConnection, root: Path) -> Path:
        return (root / connection.path).resolve()

    def source(
        self, connection: SandboxConnection, system: System, root: Path, label: str
    ) -> Source:
        path = self.sandbox_path(connection, root)
        return SandboxSource(SalesSandbox(path) if system == "sales" else _keyed(system, path))

    def destination(
        self, connection: SandboxConnection, system: System, root: Path, label: str
    ) -> Destination:
        path = self.sandbox_path(connection, root)
        return SandboxDestination(_keyed(system, path), set_wise=connection.set_wise)

    def check(self, connection: SandboxConnection, system: System, root: Path, label: str) -> str:
        path = self.sandbox_path(connection, root)
        if not path.is_file():
            raise ConfigError(
                f"the sandbox file {path} does not exist",
                fix="run `p2c init` or correct path in p2c.yaml",
            )
        return "sandbox file present"

    def scratch_copy(
        self, connection: SandboxConnection, root: Path, folder: Path
    ) -> SandboxConnection:
        original = self.sandbox_path(connection, root)
        copy = folder / original.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        # The online backup API: a consistent copy of a live database, WAL included.
        with (
            closing(sqlite3.connect(original)) as src,
            closing(sqlite3.connect(copy)) as dst,
        ):
            src.backup(dst)
        # Record by record: the dry run shows each update's changes.
        return SandboxConnection(path=str(copy), set_wise=False)

    def upgrade_sales(self, connection: SandboxConnection, root: Path, label: str) -> UpgradeReport:
        sales = SalesSandbox(self.sandbox_path(connection, root))
        try:
            return sales.upgrade()
        finally:
            sales.close()


def _keyed(system: System, path: Path) -> FinOpsSandbox | CDSHub:
    """The sandbox system written by key: F&O or the CDS hub."""
    return FinOpsSandbox(path) if system == "finops" else CDSHub(path)


SANDBOX = SandboxType()
