"""The incremental cursor of a task leg: a ``modifiedon`` watermark with ties broken by key.

A leg reads its source ordered by (watermark column, key). After each acknowledged batch the
cursor moves to the last record of the batch, so the next read starts strictly after it:
``modifiedon ge W and (modifiedon gt W or key gt K)``, a filter tree like any other, never
text. Records changed in the last few seconds before the read started are not passed: a
change committed while the run reads may carry an earlier timestamp than records already
read, and would otherwise be skipped for good.
"""

from __future__ import annotations

__all__ = [
    "CursorProblem",
    "after",
    "check",
    "definition_digest",
    "last_settled",
]

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

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


def check(cursor: Cursor, key_fields: Sequence[str], now: datetime) -> list[Any]:
    """The cursor's key values; raise CursorProblem when it cannot be used."""
    try:
        moment = _moment(cursor.watermark)
        key = json.loads(cursor.last_key)
    except (ValueError, TypeError):
        raise CursorProblem(
            f"the stored cursor ({cursor.watermark!r}, {cursor.last_key!r}) is unreadable"
        ) from None
    if not isinstance(key, list) or len(key) != len(key_fields):
        raise CursorProblem(f"the stored cursor key {cursor.last_key!r} does not fit the source")
    # A source clock a little ahead of ours is normal; an hour ahead is not a timestamp the
    # source gave.
    if moment > now + timedelta(hours=1):
        raise CursorProblem(f"the stored cursor {cursor.watermark} is in the future")
    return key


def after(watermark: str, key_fields: Sequence[str], position: str, key: Sequence[Any]) -> Filter:
    """Records after (position, key) in (watermark, key) order."""
    later_key: Filter | None = None
    # (k1, k2) > (a, b)  <=>  k1 > a or (k1 = a and k2 > b), built from the last field up.
    for field, value in reversed(list(zip(key_fields, key, strict=True))):
        greater: Filter = Compare("gt", field, value)
        if later_key is not None:
            greater = Logical("or", greater, Logical("and", Compare("eq", field, value), later_key))
        later_key = greater
    assert later_key is not None
    return Logical(
        "and",
        Compare("ge", watermark, position),
        Logical("or", Compare("gt", watermark, position), later_key),
    )


def last_settled(
    page: Sequence[dict[str, Any]], watermark: str, key_fields: Sequence[str], settled: datetime
) -> tuple[str, list[Any]] | None:
    """The last record of a page, in read order, that the cursor may pass; None when there
    is none.

    A record may be passed when every change that could still share its timestamp is
    older than ``settled``. Timestamps to the second (as Dataverse returns them) stand for
    the whole second: a record changed later in that second gets the same one.
    """
    for record in reversed(page):
        value = record.get(watermark)
        if value is None:
            continue
        text = str(value)
        moment = _moment(text)
        precision = timedelta(microseconds=1) if "." in text else timedelta(seconds=1)
        if moment + precision <= settled:
            return text, [record[k] for k in key_fields]
    return None
