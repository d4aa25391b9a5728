"""The dry run's examples: a few records of each kind it would create, update or reject,
so that a preview shows what a run would do without listing every record."""

from __future__ import annotations

__all__ = ["note_example", "note_failures"]

from collections.abc import Iterable
from typing import Any

from p2c.engine._records import ErrorRow, record_label

_EXAMPLES = 3  # examples of each kind; creates and updates together at most twice as many


def note_example(
    examples: list[str], status: str, label: str, changes: dict[str, tuple[Any, Any]] | None
) -> None:
    """Adds a written record to the examples while there is room: a create by its label,
    an update with what it changes (old → new), an unchanged record never."""
    if status == "unchanged" or len(examples) >= _EXAMPLES * 2:
        return
    if status == "created":
        if sum(e.startswith("create") for e in examples) < _EXAMPLES:
            examples.append(f"create {label}")
        return
    shown = ", ".join(f"{f}: {old!r} → {new!r}" for f, (old, new) in (changes or {}).items())
    examples.append(f"update {label}: {shown}")


def note_failures(examples: list[str], errors: Iterable[ErrorRow]) -> None:
    """Adds refused records to the examples, up to a few, with the field and the reason."""
    for error in errors:
        if sum(e.startswith("reject") for e in examples) >= _EXAMPLES:
            return
        label = record_label(error.destination_key, error.source_key, error.name)
        field = f"{error.field}: " if error.field else ""
        examples.append(f"reject {label}: {field}{error.message}")
