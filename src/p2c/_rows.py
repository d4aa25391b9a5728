"""Rows (tuples of values in a known order of field names) seen as records, for the pages
that stay in rows from the source to the destination: the engine's and the sandbox's."""

from __future__ import annotations

__all__ = ["RowRecords"]

from collections.abc import Mapping, Sequence
from typing import Any, overload


class RowRecords(Sequence[Mapping[str, Any]]):
    """Rows seen as records, each made only when it is asked for; who can take the rows
    themselves reads ``rows`` and ``names``."""

    def __init__(self, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        self.names = names
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        if isinstance(index, slice):
            return [dict(zip(self.names, row, strict=True)) for row in self.rows[index]]
        return dict(zip(self.names, self.rows[index], strict=True))
