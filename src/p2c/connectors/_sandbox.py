"""Connectors to the in-process sandbox: the embedded default."""

from __future__ import annotations

__all__ = ["SandboxDestination", "SandboxSource"]

from collections.abc import Iterator, Sequence

from p2c.connectors._base import Changes, Destination, Outcome, ReadRequest, Record, Source
from p2c.dynamics import SALES
from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox

System = SalesSandbox | FinOpsSandbox | CDSHub


class SandboxSource(Source):
    """Reads a sandbox system with the filter and lookups pushed down into SQL."""

    def __init__(self, system: System) -> None:
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

    def __init__(self, system: FinOpsSandbox | CDSHub) -> None:
        self.system = system

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

    def preview(self, entity: str, key: Sequence[str], records: list[Record]) -> list[Outcome]:
        return self._write(entity, key, records, dry_run=True)

    def _write(
        self, entity: str, key: Sequence[str], records: list[Record], *, dry_run: bool
    ) -> list[Outcome]:
        declared = self.system.entity(entity).key
        if tuple(key) != declared:
            raise ValueError(f"{entity} is keyed by {declared}, not {tuple(key)}")
        return self.system.upsert(entity, records, dry_run=dry_run)

    def close(self) -> None:
        self.system.close()
