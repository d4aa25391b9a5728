"""Connector base classes: a source reads pages, a destination upserts batches.

A connector knows its system and nothing of templates; the engine knows templates and
nothing of HTTP or SQL. Each has one or two abstract methods, as singer-sdk's streams and
sinks do. Both are context managers: ``with open_source(...) as source:`` closes it.
"""

from __future__ import annotations

__all__ = [
    "BulkWriter",
    "Changes",
    "Destination",
    "Key",
    "Outcome",
    "ReadRequest",
    "Record",
    "Row",
    "Settlement",
    "Source",
]

import abc
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from p2c._errors import ConfigError
from p2c.dynamics import Outcome
from p2c.odata import Filter

Record = dict[str, Any]
Row = tuple[Any, ...]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class ReadRequest:
    """What to read: ``$select`` columns, lookup paths (``$expand``), ``$filter``, page size."""

    entity: str
    columns: tuple[str, ...]
    lookups: tuple[str, ...] = ()
    filter: Filter | None = None
    page_size: int = 5000
    # ``$orderby`` columns, ascending; empty: the record key.
    order_by: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The values of a row that ``Source.read_rows`` gives, in order: the columns,
        then the lookup paths (each once)."""
        return tuple(dict.fromkeys([*self.columns, *self.lookups]))


@dataclass(frozen=True)
class Changes:
    """What change tracking says: the keys of records created or changed since a token
    (one tuple of key values per record), and the token to ask with next time."""

    keys: list[tuple[Any, ...]]
    token: str


class _Closing:
    """``with connector:`` closes it at the end of the block."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Source(_Closing, abc.ABC):
    """A system records are read from."""

    @abc.abstractmethod
    def read(self, request: ReadRequest) -> Iterator[list[Record]]:
        """Pages of records, each with the requested columns and lookup paths as keys."""

    def read_rows(self, request: ReadRequest) -> Iterator[list[Row]]:
        """The pages of ``read``, each record as a row: its values in the order of
        ``request.names``. A source that holds rows gives them as they are; this default
        takes them out of the records."""
        names = request.names
        values = operator.itemgetter(*names)
        for page in self.read(request):
            if len(names) == 1:
                yield [(values(record),) for record in page]
            else:
                yield list(map(values, page))

    @abc.abstractmethod
    def record_key(self, entity: str) -> tuple[str, ...]:
        """Columns that identify a record of ``entity`` (for lineage and error reports)."""

    def count(self, request: ReadRequest) -> int | None:
        """How many records ``read(request)`` would return, when the source can say cheaply
        (for a progress display); None when it cannot."""
        return None

    def last(self, request: ReadRequest) -> Record | None:
        """The last record ``read(request)`` would give (in ``request.order_by`` order, then
        the key), found without reading the others; None when there is none or the source
        cannot find it cheaply (an incremental cursor then passes only the records read)."""
        return None

    def watermark(self, entity: str) -> str | None:
        """The column that says when a record last changed (``modifiedon``), for incremental
        reads ordered by it; None when the source has none (every run reads everything)."""
        return None

    def changes(self, entity: str, token: str | None) -> Changes | None:
        """Change tracking (Dataverse's delta links): the records changed since ``token``;
        with ``token`` None, no keys and the token of now. None when the source does not
        track changes of ``entity``: the engine then reads by ``watermark``."""
        return None


class Destination(_Closing, abc.ABC):
    """A system records are upserted into by key."""

    @abc.abstractmethod
    def upsert(
        self,
        entity: str,
        key: Sequence[str],
        records: list[Record],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        """Create or update each record by ``key``; one result per record, in order.

        ``new`` marks records p2c has never written: a destination may try to create them
        without first reading whether they exist (it must still update one that does)."""

    def upsert_rows(
        self,
        entity: str,
        key: Sequence[str],
        fields: Sequence[str],
        rows: list[Row],
        *,
        new: Sequence[bool] | None = None,
    ) -> list[Outcome]:
        """``upsert`` of records given as rows: each the values of ``fields``, in order. A
        destination that writes rows takes them as they are; this default makes records."""
        return self.upsert(
            entity, key, [dict(zip(fields, row, strict=True)) for row in rows], new=new
        )

    def preview(self, entity: str, key: Sequence[str], records: list[Record]) -> list[Outcome]:
        """What ``upsert`` would do, writing nothing (``p2c run --dry-run``)."""
        raise ConfigError(
            f"{type(self).__name__} cannot preview writes, so a dry run cannot use it.",
            fix="run the dry run against a sandbox copy of the destination",
        )

    def bulk(self, entity: str, key: Sequence[str], name: str) -> BulkWriter | None:
        """A writer that takes this task's records a unit of many pages at a time (F&O's data
        packages), or None: the engine upserts page by page (the default).

        Args:
            entity: The entity written.
            key: Its key fields.
            name: What the system calls the work (the project's name: F&O's data project).
        """
        return None


@dataclass(frozen=True)
class Settlement:
    """What the system did with a unit of a :class:`BulkWriter`.

    Attributes:
        outcomes: Outcomes by key where the system reported one: every record it rejected
            and, where it says so, the status of one it wrote. A record of the unit without
            an entry was written: created when it was new to p2c, else updated.
        failed: The unit failed as a whole (the system could not read it): this outcome,
            without a key, for every record of the unit.
    """

    outcomes: Mapping[Key, Outcome]
    failed: Outcome | None = None


class BulkWriter(abc.ABC):
    """A task's writes handed to the system a unit of many pages at a time.

    The engine opens a unit (``open``, which names its ticket), adds pages to it (``add``),
    and keeps the ticket and the unit's records in its state before it hands the unit over
    (``submit``); then it asks for the outcome (``settle``) and only then records lineage
    and moves the cursor. A run killed while the system works on a unit asks for that
    unit's outcome on the next run, by its ticket, instead of writing it again.
    """

    @abc.abstractmethod
    def open(self) -> str:
        """Start a unit; the ticket that names it to the system."""

    @abc.abstractmethod
    def add(self, records: list[Record], new: Sequence[bool]) -> list[Key | Outcome]:
        """Take a page into the open unit. Per record: the key the system will report it
        by, or the failed outcome of a record refused before it is sent.

        Args:
            records: The page's records.
            new: Per record, whether p2c never wrote it.
        """

    @property
    def full(self) -> bool:
        """Whether the open unit should be submitted now (it reached its size)."""
        return False

    @abc.abstractmethod
    def submit(self) -> None:
        """Hand the open unit to the system (its records were kept by the caller)."""

    @abc.abstractmethod
    def settle(self, ticket: str, waiting: Callable[[], None]) -> Settlement | None:
        """Wait for the system's verdict on a unit; None when the system never received it
        (nothing of it was written: write its records again).

        Args:
            ticket: The unit's ticket, of this run or of a run that was killed.
            waiting: Called now and then while waiting (the engine's heartbeat).
        """
