"""A page of a leg in rows: the hot path where every record maps the same way.

Where a leg's records all map alike (one organization mapping, no deactivation rule) and
the run writes page by page, the page stays in rows from the source to the destination:
the source gives each record as a tuple of the values read (``Source.read_rows``), the
compiled map turns it into a tuple of the destination's fields (``CompiledMap.over_rows``),
and the destination takes the tuples (``Destination.upsert_rows``). A record is made only
where a message names one. The value digest of a row is the digest of the record it
stands for, so either path finds the other's records unchanged.
"""

from __future__ import annotations

__all__ = ["Batch", "Digests", "Mapped", "RecordPage", "RowPage", "tally"]

import collections
import hashlib
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2c.connectors import Outcome, Record, Row
from p2c.dynamics import WriteStatus
from p2c.engine._activity import Deactivation
from p2c.engine._mapping import CompiledMap
from p2c.engine._records import ErrorRow, TaskCounts

Written = tuple[str, str, str | None]  # source key, destination key, digest


class Digests:
    """The value digest of mapped values, in the map's fixed order, keyed by the leg's
    definition: a changed map changes every digest, so every record is written once
    with it."""

    def __init__(self, definition: bytes) -> None:
        self.keyed = hashlib.blake2b(digest_size=16, key=definition)

    def __call__(self, values: Iterable[Any]) -> str:
        digest = self.keyed.copy()  # the key's block is hashed once, not per record
        digest.update(repr(list(values)).encode())
        return digest.hexdigest()


@dataclass
class Batch:
    """A page's mapped records (or rows) to write, with their source keys and value
    digests, and the records that failed before writing."""

    records: list[Any] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    errors: list[ErrorRow] = field(default_factory=list)
    # Queued records found unchanged: fine now, so off the error queue.
    settled: list[str] = field(default_factory=list)

    def take(
        self,
        record: Any,
        key: str,
        digest: str,
        known: Mapping[str, tuple[str, str | None]],
        queued: set[str],
        counts: TaskCounts,
    ) -> None:
        """Take a mapped record, unless its digest is the one written last (``known``):
        then it is counted unchanged, and settled if it waits in the error queue."""
        stored = known.get(key)
        if stored is not None and stored[1] == digest:
            counts.unchanged += 1
            if key in queued:
                self.settled.append(key)
            return
        self.records.append(record)
        self.keys.append(key)
        self.digests.append(digest)


@dataclass(frozen=True)
class Mapped:
    """A page in rows, mapped: the source keys, the mapped rows and their digests."""

    keys: list[str]
    rows: list[Row]
    digests: list[str]


class RowPage:
    """A leg's map over rows.

    Args:
        compiled: The leg's compiled map.
        names: The source values of a row, in order (``ReadRequest.names``).
        source_key: The source key columns.
        digests: The leg's digests.
    """

    def __init__(
        self,
        compiled: CompiledMap,
        names: Sequence[str],
        source_key: Sequence[str],
        digests: Digests,
    ) -> None:
        self.names = tuple(names)
        self.fields = compiled.fields
        self.apply = compiled.over_rows(self.names)
        self.digests = digests
        self.positions = [self.names.index(k) for k in source_key]

    def keys(self, rows: Sequence[Row]) -> list[str]:
        """The source key of each row as text (composite keys joined by '/')."""
        if len(self.positions) == 1:
            return list(map(str, map(operator.itemgetter(self.positions[0]), rows)))
        positions = self.positions
        return ["/".join([str(row[p]) for p in positions]) for row in rows]

    def record(self, row: Row) -> dict[str, Any]:
        """The destination record a mapped row stands for (for messages)."""
        return dict(zip(self.fields, row, strict=True))

    def prepare(self, rows: Sequence[Row]) -> Mapped:
        """The rows' source keys, mapped rows and digests: what needs nothing but the page
        (read-ahead makes it on its own thread)."""
        apply, digest = self.apply, self.digests
        mapped = list(map(apply, rows))
        return Mapped(self.keys(rows), mapped, list(map(digest, mapped)))

    @staticmethod
    def keep(
        page: Mapped,
        known: Mapping[str, tuple[str, str | None]],
        queued: set[str],
        counts: TaskCounts,
    ) -> Batch:
        """Leave out the rows unchanged since written (the queued ones among them are
        settled)."""
        if not known:
            return Batch(page.rows, page.keys, page.digests)
        batch = Batch()
        for mapped, key, value_digest in zip(page.rows, page.keys, page.digests, strict=True):
            batch.take(mapped, key, value_digest, known, queued, counts)
        return batch


class RecordPage:
    """A leg's map over records, where records map differently: each resolves its legal
    entity (``resolve``, None where one organization mapping is compiled into the map),
    and a deactivation rule may set its active field.

    Args:
        apply: The compiled map over records.
        digests: The leg's digests.
        record_name: The name a message gives a mapped record.
    """

    def __init__(
        self,
        apply: Callable[[Record], dict[str, Any]],
        digests: Digests,
        record_name: Callable[[Mapping[str, Any]], str | None],
        resolve: Callable[[Record], dict[str, Any] | ErrorRow | None] | None,
        deactivation: Deactivation | None,
    ) -> None:
        self.apply, self.digests, self.record_name = apply, digests, record_name
        self.resolve, self.deactivation = resolve, deactivation

    def map(
        self,
        page: Sequence[Record],
        keys: Sequence[str],
        known: Mapping[str, tuple[str, str | None]],
        queued: set[str],
        counts: TaskCounts,
    ) -> Batch:
        """Map a page; leave out what is skipped, unchanged since written, or unmapped."""
        batch = Batch()
        apply, resolve, deactivation = self.apply, self.resolve, self.deactivation
        for record, record_key in zip(page, keys, strict=True):
            fixed = None if resolve is None else resolve(record)
            if resolve is not None and fixed is None:
                counts.skipped += 1  # mapped to no legal entity: not mapped at all
                continue
            mapped = apply(record)
            if isinstance(fixed, ErrorRow):
                name = self.record_name(mapped)
                batch.errors.append(
                    ErrorRow(record_key, None, fixed.field, fixed.message, name=name)
                )
                continue
            if fixed is not None:
                mapped.update(fixed)
            if deactivation is not None:
                deactivation.apply(record, mapped)
            batch.take(mapped, record_key, self.digests(mapped.values()), known, queued, counts)
        return batch


def tally(
    results: Sequence[Outcome],
    keys: Sequence[str],
    digests: Sequence[str],
    counts: TaskCounts,
    on_written: Callable[[int, str], None] | None = None,
) -> tuple[list[Written], list[int]]:
    """Count a page's outcomes. Returns (source key, destination key, digest) of each
    record the destination holds, and the positions of the failed ones; ``on_written``
    hears of each written record (position, destination key)."""
    if on_written is None:
        quick = _tally_quickly(results, keys, digests, counts)
        if quick is not None:
            return quick
    written: list[Written] = []
    failed: list[int] = []
    created = updated = unchanged = 0
    for index, result in enumerate(results):
        status = result[1]
        if status == "failed":
            failed.append(index)
            continue
        if status == "created":
            created += 1
        elif status == "updated":
            updated += 1
        else:
            unchanged += 1
        key = result[0]
        destination_key = key[0] if len(key) == 1 and key[0].__class__ is str else None
        if destination_key is None:
            destination_key = "/".join(map(str, key))
        written.append((keys[index], destination_key, digests[index]))
        if on_written is not None:
            on_written(index, destination_key)
    counts.created += created
    counts.updated += updated
    counts.unchanged += unchanged
    return written, failed


def _tally_quickly(
    results: Sequence[Outcome],
    keys: Sequence[str],
    digests: Sequence[str],
    counts: TaskCounts,
) -> tuple[list[Written], list[int]] | None:
    """``tally`` without a Python step per record, where every key value is a text (then a
    destination key is its values joined by '/'); None where one is not."""
    key_values = list(map(operator.itemgetter(0), results))
    if set(map(type, itertools.chain.from_iterable(key_values))) - {str}:
        return None
    statuses = list(map(operator.itemgetter(1), results))
    tallied = collections.Counter(statuses)
    written: Iterable[Written] = zip(keys, map("/".join, key_values), digests, strict=False)
    failed: list[int] = []
    if tallied[WriteStatus.FAILED]:
        ok = list(map(operator.ne, statuses, itertools.repeat(WriteStatus.FAILED)))
        failed = [i for i, good in enumerate(ok) if not good]
        written = itertools.compress(written, ok)
    created, updated = tallied[WriteStatus.CREATED], tallied[WriteStatus.UPDATED]
    counts.created += created
    counts.updated += updated
    counts.unchanged += len(statuses) - len(failed) - created - updated
    return list(written), failed
