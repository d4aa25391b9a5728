"""Dataverse Web API request bodies -> stored rows, with every problem named.

A body is what ``POST /api/data/v9.2/contacts`` takes: column logical names, and lookups as
``"parentcustomerid_account@odata.bind": "/accounts(<id>)"`` (a GUID or an alternate key in
the parentheses). Problems carry the item's position (``contacts[3]``), the field and a fix.
"""

from __future__ import annotations

__all__ = [
    "Binding",
    "Prepared",
    "navigation_properties",
    "parse_reference",
    "prepare",
    "raise_problems",
]

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from p2c._errors import InputError, P2CError
from p2c.dynamics import Entity, Field, FieldType

_REFERENCE = re.compile(r"^(?:.*/)?(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>[^()]*)\)$")
_KEY_PART = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*'(?P<value>(?:[^']|'')*)'\s*$")


@dataclass(frozen=True)
class Binding:
    """A lookup to resolve: ``row[column]`` points at ``target`` by id or alternate key."""

    position: str
    column: str
    nav: str
    target: str
    key: tuple[tuple[str, str], ...] | str  # a GUID, or (name, value) pairs of an alternate key
    row: dict[str, Any] = field(hash=False, compare=False)


@dataclass
class Prepared:
    rows: list[dict[str, Any]] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    problems: list[P2CError] = field(default_factory=list)


def navigation_properties(entity: Entity) -> dict[str, tuple[Field, str]]:
    """Single-valued navigation property -> (lookup field, target logical name).

    Dataverse names the navigation properties of a polymorphic lookup by target, so
    ``parentcustomerid`` has ``parentcustomerid_account`` and ``parentcustomerid_contact``.
    """
    navs: dict[str, tuple[Field, str]] = {}
    for f in entity.fields:
        if f.type is FieldType.LOOKUP:
            for target in f.targets:
                navs[f"{f.name}_{target}" if f.polymorphic else f.name] = (f, target)
    return navs


def parse_reference(text: str) -> tuple[str, tuple[tuple[str, str], ...] | str]:
    """``/accounts(<guid>)`` or ``contacts(msdynce_contactnumber='CON-…')`` -> (set, key)."""
    match = _REFERENCE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an entity reference such as /accounts(<id>)")
    key = match["key"].strip()
    if "=" not in key:
        return match["set"], key
    parts = []
    for part in key.split(","):
        pm = _KEY_PART.match(part)
        if not pm:
            raise ValueError(f"{text!r}: cannot read the alternate key {part!r}")
        parts.append((pm["name"], pm["value"].replace("''", "'")))
    return match["set"], tuple(parts)


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"did you mean {close[0]!r}?" if close else "remove it or check the spelling"


def prepare(
    entity: Entity,
    bodies: list[Any],
    *,
    where: str,
    visible: set[str],
    entity_sets: dict[str, str],
    update: bool = False,
) -> Prepared:
    """Check create (or update) bodies and turn them into rows of stored values.

    Args:
        entity: The entity written to.
        bodies: The request bodies.
        where: Position prefix for messages, e.g. ``contacts``.
        visible: Columns that exist (solution columns only when installed).
        entity_sets: Entity set name -> logical name, to read references.
        update: Bodies are updates: required columns need not be present.
    """
    out = Prepared()
    navs = navigation_properties(entity)
    coercers = entity.coercers
    required = [f for f in entity.fields if f.required and f.type is not FieldType.LOOKUP]
    required_lookups = [f for f in entity.fields if f.required and f.type is FieldType.LOOKUP]
    for index, body in enumerate(bodies):
        position = f"{where}[{index}]"
        if not isinstance(body, dict):
            out.problems.append(
                P2CError(
                    f"expected a JSON object, got {type(body).__name__}",
                    record=position,
                    fix='write each record as {"column": value, ...}',
                )
            )
            continue
        row: dict[str, Any] = {}
        # Columns already reported as wrong: not also reported as missing.
        wrong: set[str] = set()
        for name, value in body.items():
            if name.endswith("@odata.bind"):
                nav = name[: -len("@odata.bind")]
                if nav not in navs:
                    out.problems.append(
                        P2CError(
                            f"{entity.name} has no navigation property {nav!r}",
                            record=position,
                            field=name,
                            fix=_suggest(nav, navs),
                        )
                    )
                    continue
                lookup, target = navs[nav]
                try:
                    set_name, key = parse_reference(str(value))
                except ValueError as exc:
                    out.problems.append(P2CError(str(exc), record=position, field=name))
                    wrong.add(lookup.name)
                    continue
                if entity_sets.get(set_name) != target:
                    out.problems.append(
                        P2CError(
                            f"{nav} points at {target} records, not at {set_name!r}",
                            record=position,
                            field=name,
                            fix=f"bind to /{_set_of(target, entity_sets)}(<id>)",
                        )
                    )
                    wrong.add(lookup.name)
                    continue
                row[lookup.name] = None  # filled when the binding resolves
                if lookup.polymorphic:
                    row[lookup.name + "type"] = target
                out.bindings.append(Binding(position, lookup.name, name, target, key, row))
                continue
            if name.startswith("@") or "@" in name:
                continue  # OData annotations such as @odata.type carry no data
            f = entity.by_name.get(name)
            if f is None or name not in visible:
                out.problems.append(
                    P2CError(
                        f"{entity.name} has no column {name!r}",
                        record=position,
                        field=name,
                        fix=_suggest(name, visible),
                    )
                )
                continue
            if f.read_only:
                out.problems.append(
                    P2CError(
                        f"{name} is set by the system", record=position, field=name, fix="remove it"
                    )
                )
                continue
            if f.type is FieldType.LOOKUP:
                out.problems.append(
                    P2CError(
                        f"{name} is a lookup and is set by binding",
                        record=position,
                        field=name,
                        fix=f'write "{_navs_of(f, navs)[0]}@odata.bind": "/<entity set>(<id>)"',
                    )
                )
                continue
            try:
                row[name] = coercers[name](value)
            except ValueError as exc:
                out.problems.append(
                    P2CError(
                        str(exc), record=position, field=name, fix=f"give {f.display} a valid value"
                    )
                )
                wrong.add(name)
        if not update:
            for f in required:
                if row.get(f.name) in (None, "") and f.name not in wrong:
                    out.problems.append(
                        P2CError(
                            f"{f.display} ({f.name}) is required",
                            record=position,
                            field=f.name,
                            fix=f"give {f.name} a value",
                        )
                    )
            for f in required_lookups:
                if f.name not in row and f.name not in wrong:
                    out.problems.append(
                        P2CError(
                            f"{f.display} ({f.name}) is required",
                            record=position,
                            field=f.name,
                            fix=f"bind it with {_navs_of(f, navs)[0]}@odata.bind",
                        )
                    )
        out.rows.append(row)
    return out


def _navs_of(lookup: Field, navs: dict[str, tuple[Field, str]]) -> list[str]:
    return [name for name, (f, _) in navs.items() if f is lookup]


def _set_of(logical: str, entity_sets: dict[str, str]) -> str:
    return next((s for s, name in entity_sets.items() if name == logical), logical)


def raise_problems(problems: list[P2CError], what: str) -> None:
    if problems:
        shown = problems[:50]
        more = f" (and {len(problems) - 50} more)" if len(problems) > 50 else ""
        raise InputError(f"{what}: {len(problems)} problem(s){more}; nothing was written.", shown)
