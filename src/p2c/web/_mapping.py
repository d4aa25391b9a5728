"""A template's (or project's) tasks as the Data Integrator shows them: per leg the source
entity and filter, the destination entity and key, and each destination field with the
source field or transform it is computed from."""

from __future__ import annotations

__all__ = ["FieldRow", "LegView", "TaskView", "task_views"]

from dataclasses import dataclass, field
from typing import Any

from p2c.templates import Copy, Default, Fn, Template, ValueMap


@dataclass(frozen=True)
class FieldRow:
    """``destination ← source`` with its transform (Copy, Default, ValueMap, Fn)."""

    destination: str
    kind: str
    source: str  # the source field(s), or "" for a constant
    detail: str  # the transform in words: the default, the function
    value_map: list[tuple[str, str]] = field(default_factory=list)
    changed: bool = False  # differs from the template (a project's change)


@dataclass(frozen=True)
class LegView:
    name: str
    source_entity: str
    source_system: str
    filter: str | None
    destination_entity: str
    destination_system: str
    key: list[str]
    fields: list[FieldRow]


@dataclass(frozen=True)
class TaskView:
    name: str
    legs: list[LegView]


def _text(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _map_rows(table: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(key if key != "" else "(blank)", _text(value)) for key, value in (table or {}).items()]


def field_row(destination: str, transform: Any, changed: bool = False) -> FieldRow:
    """One destination field's row."""
    if isinstance(transform, Copy):
        return FieldRow(destination, "Copy", transform.source, "", changed=changed)
    if isinstance(transform, Default):
        detail = _text(transform.default)
        if transform.source:
            detail = f"{detail} when empty"
        return FieldRow(destination, "Default", transform.source or "", detail, changed=changed)
    if isinstance(transform, ValueMap):
        parts = []
        if transform.has_else:
            parts.append(f"else {_text(transform.otherwise)}")
        if transform.default is not None:
            parts.append(f"default {_text(transform.default)}")
        return FieldRow(
            destination,
            "ValueMap",
            transform.source,
            ", ".join(parts),
            _map_rows(transform.value_map),
            changed,
        )
    if isinstance(transform, Fn):
        sources = ", ".join([transform.source] if transform.source else list(transform.args or []))
        detail = transform.fn
        if transform.fn == "concat":
            detail = f"concat with {transform.separator!r}"
        elif transform.fn == "truncate":
            detail = f"truncate to {transform.length}"
        if transform.default is not None:
            detail += f", default {_text(transform.default)}"
        return FieldRow(destination, "Fn", sources, detail, _map_rows(transform.value_map), changed)
    return FieldRow(destination, "?", "", repr(transform), changed=changed)


def _dump(transform: Any) -> Any:
    return transform.model_dump(by_alias=True) if hasattr(transform, "model_dump") else transform


def task_views(template: Template, base: Template | None = None) -> list[TaskView]:
    """The tasks of ``template``; with ``base`` (the template a project is made from), the
    fields the project changed are marked."""
    base_maps: dict[tuple[str, str], dict[str, Any]] = {}
    if base is not None:
        for task in base.tasks:
            for leg in task.legs:
                base_maps[(task.name, leg.name)] = {k: _dump(v) for k, v in leg.map.items()}
    views = []
    for task in template.tasks:
        legs = []
        for leg in task.legs:
            original = base_maps.get((task.name, leg.name))
            rows = [
                field_row(
                    name,
                    transform,
                    original is not None and original.get(name) != _dump(transform),
                )
                for name, transform in leg.map.items()
            ]
            legs.append(
                LegView(
                    leg.name,
                    leg.source.entity,
                    leg.source.system,
                    leg.source.filter,
                    leg.destination.entity,
                    leg.destination.system,
                    list(leg.destination.key),
                    rows,
                )
            )
        views.append(TaskView(task.name, legs))
    return views
