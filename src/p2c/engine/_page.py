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

__all__ = ["Digests", "RowPage", "tally"]

import collections
import hashlib
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from p2c.connectors import Outcome, Row
from p2c.dynamics import WriteStatus
from p2c.engine._mapping import CompiledMap
from p2c.engine._records import TaskCounts

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

    def map(
        self,
        rows: Sequence[Row],
        keys: Sequence[str],
        known: Mapping[str, tuple[str, str | None]],
        queued: set[str],
        counts: TaskCounts,
    ) -> tuple[list[Row], list[str], list[str], list[str]]:
        """Map the rows and leave out those unchanged since written. Returns the mapped
        rows, their source keys and digests, and the queued keys found unchanged."""
        apply, digest = self.apply, self.digests
        mapped_rows: list[Row] = []
        mapped_keys: list[str] = []
        digests: list[str] = []
        settled: list[str] = []
        for row, key in zip(rows, keys, strict=True):
            mapped = apply(row)
            value_digest = digest(mapped)
            stored = known.get(key) if known else None
            if stored is not None and stored[1] == value_digest:
                counts.unchanged += 1
                if key in queued:
                    settled.append(key)
                continue
            mapped_rows.append(mapped)
            mapped_keys.append(key)
            digests.append(value_digest)
        return mapped_rows, mapped_keys, digests, settled


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
