"""The incremental cursor of a task leg: a ``modifiedon`` watermark with ties broken by key.

A leg reads its source ordered by (watermark column, key). After each acknowledged batch the
cursor moves to the last record of the batch, so the next read starts strictly after it:
``modifiedon ge W and (modifiedon gt W or key gt K)``, a filter tree like any other, never
text. Records changed in the last few seconds before the read started are not passed: a
change committed while the run reads may carry an earlier timestamp than records already
read, and would otherwise be skipped for good.

`Incremental` is the cursor as one object, after dlt's ``Incremental``: the cursor column,
the key columns, the lag, and the position it has reached. Its persisted form is the
`Cursor` record the state database stores.
"""

from __future__ import annotations

__all__ = ["CursorProblem", "Incremental", "definition_digest"]

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from p2c.connectors import ReadRequest, Source
from p2c.engine._records import Cursor
from p2c.odata import Compare, Filter, Logical
from p2c.templates import Copy, Leg, Transform


class CursorProblem(Exception):
    """A stored cursor that cannot be trusted (unreadable, or in the future)."""


# Every transform setting with its value when not given: the digest is taken over this flat
# form, the form of transforms before they had one class per kind, so that the cursors and
# value digests in existing state databases stay valid.
_FLAT_TRANSFORM = {
    "from": None,
    "default": None,
    "value_map": None,
    "fn": None,
    "args": None,
    "separator": " ",
    "length": None,
}


def _flat(transform: Transform) -> Any:
    if isinstance(transform, Copy):
        return transform.source
    return {**_FLAT_TRANSFORM, **transform.model_dump(mode="json", by_alias=True)}


def definition_digest(leg: Leg, *extra: str) -> str:
    """What a leg's records depend on: entities, filter and map (and the inactive policy)."""
    data = leg.model_dump(mode="json", by_alias=True)
    data["map"] = {field: _flat(transform) for field, transform in leg.map.items()}
    text = json.dumps([data, *extra], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Incremental:
    """Where a leg's incremental read resumes, and how far each page moves it.

    Args:
        watermark: The source's change timestamp column (``modifiedon``); None when the
            source has none: then every read is whole, and only change tracking narrows it.
        key: The source key columns, which order records that share a timestamp.
        definition: The leg's definition digest; a cursor stored for another definition is
            not resumed.
        lag: How close to ``started`` the cursor may come (``settle_seconds``).
        started: When the read started.

    Attributes:
        last_value: The watermark of the last record passed, as the source gave it; "" when
            there is none (read from the beginning).
        last_key: That record's key values as a JSON list; "" when there is none.
        delta: The change tracking token to read changes since, when the source gave one.
    """

    def __init__(
        self,
        watermark: str | None,
        key: Sequence[str],
        definition: str,
        *,
        lag: timedelta,
        started: datetime,
    ) -> None:
        self.watermark = watermark
        self.key = tuple(key)
        self.definition = definition
        self.started = started
        self.settled = started - lag
        self.last_value = ""
        self.last_key = ""
        self.delta: str | None = None

    def resume(self, stored: Cursor | None) -> str | None:
        """Take up a stored cursor. Returns why it is not taken up, for the run's notes, or
        None (also when there is none: the first read is whole)."""
        if stored is None:
            return None
        if stored.definition != self.definition:
            return "the task's mapping or filter changed since the last run: read everything"
        self.last_value, self.last_key, self.delta = stored.watermark, stored.last_key, stored.delta
        return None

    def where(self) -> Filter | None:
        """The records after the position, in (watermark, key) order; None to read all.

        Raises:
            CursorProblem: the position cannot be trusted; it is dropped, so the read starts
                from the beginning and the first settled page replaces it.
        """
        if not self.watermark or not self.last_value:
            return None
        try:
            key = self._checked_key()
        except CursorProblem:
            self.last_value = self.last_key = ""
            raise
        return self._after(self.watermark, key)

    def advance(self, page: Sequence[Mapping[str, Any]]) -> Cursor | None:
        """Move past the page's last settled record. Returns the cursor to store with the
        page's batch, or None when no record of the page may be passed yet."""
        if not self.watermark:
            return None
        found = self._last_settled(page, self.watermark)
        if found is None:
            return None
        self.last_value, self.last_key = found[0], json.dumps(found[1])
        return self.state()

    def pass_left_out(self, source: Source, entity: str) -> bool:
        """After a whole read, move on to the source's last settled record, whether the leg's
        filter took it or not, so that the next read does not scan again the records the
        filter left out (a record left out that changes later gets a later timestamp, after
        the cursor). Returns whether the cursor moved: the caller saves it once the read's
        batches are committed.
        """
        if not self.watermark:
            return False
        try:
            after = self.where()
        except CursorProblem:
            return False
        # Settled to the second whatever the values' precision; as text too ("10:00:00.5Z"
        # sorts before "10:00:00Z"). The record found is checked as a page's last one is.
        bound = self.settled.replace(microsecond=0) - timedelta(seconds=1)
        settled: Filter = Compare("le", self.watermark, bound.strftime("%Y-%m-%dT%H:%M:%SZ"))
        where = settled if after is None else Logical("and", settled, after)
        order = (self.watermark, *self.key)
        last = source.last(ReadRequest(entity, order, (), where, page_size=1, order_by=order))
        return last is not None and self.advance([last]) is not None

    def state(self, delta: str | None = None) -> Cursor:
        """The persisted form: the position reached, with a change tracking token."""
        return Cursor(self.last_value, self.last_key, self.definition, delta)

    def _checked_key(self) -> list[Any]:
        try:
            moment = _moment(self.last_value)
            key = json.loads(self.last_key)
        except (ValueError, TypeError):
            raise CursorProblem(
                f"the stored cursor ({self.last_value!r}, {self.last_key!r}) is unreadable"
            ) from None
        if not isinstance(key, list) or len(key) != len(self.key):
            raise CursorProblem(f"the stored cursor key {self.last_key!r} does not fit the source")
        # A source clock a little ahead of ours is normal; an hour ahead is not a timestamp
        # the source gave.
        if moment > self.started + timedelta(hours=1):
            raise CursorProblem(f"the stored cursor {self.last_value} is in the future")
        return key

    def _after(self, watermark: str, key: Sequence[Any]) -> Filter:
        """Records after (last_value, key) in (watermark, key) order."""
        later_key: Filter | None = None
        # (k1, k2) > (a, b)  <=>  k1 > a or (k1 = a and k2 > b), built from the last field up.
        for field, value in reversed(list(zip(self.key, key, strict=True))):
            greater: Filter = Compare("gt", field, value)
            if later_key is not None:
                greater = Logical(
                    "or", greater, Logical("and", Compare("eq", field, value), later_key)
                )
            later_key = greater
        assert later_key is not None
        position = self.last_value
        return Logical(
            "and",
            Compare("ge", watermark, position),
            Logical("or", Compare("gt", watermark, position), later_key),
        )

    def _last_settled(
        self, page: Sequence[Mapping[str, Any]], watermark: str
    ) -> tuple[str, list[Any]] | None:
        """The last record of a page, in read order, that the cursor may pass.

        A record may be passed when every change that could still share its timestamp is
        older than ``settled``. Timestamps to the second (as Dataverse returns them) stand
        for the whole second: a record changed later in that second gets the same one.
        """
        for record in reversed(page):
            value = record.get(watermark)
            if value is None:
                continue
            text = str(value)
            precision = timedelta(microseconds=1) if "." in text else timedelta(seconds=1)
            if _moment(text) + precision <= self.settled:
                return text, [record[k] for k in self.key]
        return None
