"""Instance annotations of the Dataverse face and the ``Prefer`` header that asks for them.

``Prefer: odata.include-annotations="..."`` names annotations (``*``, a namespace with
``.*``, an exact term, or ``-term`` to leave one out). The emulator answers the ones
Dataverse gives on records: ``OData.Community.Display.V1.FormattedValue`` (labels of choices
and yes/no columns, the primary name of a lookup's record, money with its currency symbol,
whole numbers with separators, dates in the user's format), and
``Microsoft.Dynamics.CRM.lookuplogicalname`` and ``associatednavigationproperty`` on lookups.
Every record carries ``@odata.etag``: ``W/"<versionnumber>"``, the row version the sandbox
raises on every write of the row, as Dataverse's ETag is.
"""

from __future__ import annotations

__all__ = [
    "FORMATTED",
    "LOGICAL",
    "NAVIGATION",
    "VERSION",
    "Annotations",
    "apply_preference",
    "etag",
    "formatted",
    "preferences",
]

from datetime import datetime
from typing import Any

from p2c.dynamics import Field, FieldType

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"
VERSION = "versionnumber"  # the column an ETag shows
NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"


def preferences(header: str) -> dict[str, str]:
    """The preferences of a ``Prefer`` header by lower-case name; commas inside quoted values
    (``odata.include-annotations="a,b"``) belong to the value."""
    found: dict[str, str] = {}
    part: list[str] = []
    quoted = False
    for char in header + ",":
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            name, _, value = "".join(part).strip().partition("=")
            if name.strip():
                found[name.strip().lower()] = value.strip().strip('"')
            part = []
        else:
            part.append(char)
    return found


class Annotations:
    """Which annotations a request asked for.

    Args:
        wanted: The value of ``odata.include-annotations``; None when not asked.
    """

    def __init__(self, wanted: str | None) -> None:
        terms = [t.strip() for t in (wanted or "").split(",") if t.strip()]
        self.include = [t for t in terms if not t.startswith("-")]
        self.exclude = [t[1:] for t in terms if t.startswith("-")]
        self.text = wanted

    @classmethod
    def of(cls, headers: dict[str, str]) -> Annotations:
        return cls(preferences(headers.get("prefer", "")).get("odata.include-annotations"))

    def wants(self, term: str) -> bool:
        if any(_matches(p, term) for p in self.exclude):
            return False
        return any(_matches(p, term) for p in self.include)

    @property
    def any(self) -> bool:
        return bool(self.include)


def apply_preference(request: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with ``Preference-Applied`` naming the annotations the request asked for."""
    notes = Annotations.of(request)
    if notes.any:
        applied = f'odata.include-annotations="{notes.text}"'
        before = headers.get("Preference-Applied")
        headers["Preference-Applied"] = f"{before}, {applied}" if before else applied
    return headers


def _matches(pattern: str, term: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return term.startswith(pattern[:-1])
    return pattern == term


def etag(row: dict[str, Any]) -> str:
    """A record's weak ETag: its row version, ``W/"<versionnumber>"`` as Dataverse shows it;
    the sandbox raises the version on every write of the row."""
    return f'W/"{row[VERSION]}"'


def formatted(f: Field, value: Any, symbol: str | None = None) -> str | None:
    """The formatted value Dataverse gives for a stored value (English, UTC; INFERRED: the
    user's format settings are those of a new en-US user)."""
    if value is None:
        return None
    kind = f.type
    if kind in (FieldType.PICKLIST, FieldType.BOOL):
        return f.option_label(value)
    if kind is FieldType.MONEY:
        amount = float(value)
        sign = "-" if amount < 0 else ""
        return f"{sign}{symbol or '$'}{abs(amount):,.2f}"
    if kind is FieldType.INT:
        return f"{int(value):,}"
    if kind is FieldType.DATETIME:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        hour = moment.hour % 12 or 12
        half = "AM" if moment.hour < 12 else "PM"
        return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {half}"
    return None
