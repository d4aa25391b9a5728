"""Dataverse Web API request bodies -> stored rows, with every problem named.

A body is what ``POST /api/data/v9.2/contacts`` takes: column logical names, and lookups as
``"parentcustomerid_account@odata.bind": "/accounts(<id>)"`` (a GUID or an alternate key in
the parentheses). Problems carry the item's position (``contacts[3]``), the field and a fix.
``present`` is the way back: a stored row in Web API form.
"""

from __future__ import annotations

__all__ = [
    "Binding",
    "Prepared",
    "navigation_properties",
    "parse_reference",
    "prepare",
    "present",
    "raise_problems",
]

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from p2c._errors import InputError, P2CError
from p2c._strictjson import printable
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


@dataclass(frozen=True)
class _Target:
    """What bodies of one entity are checked against."""

    entity: Entity
    visible: set[str]
    entity_sets: dict[str, str]
    navs: dict[str, tuple[Field, str]]


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
    target = _Target(entity, visible, entity_sets, navigation_properties(entity))
    for index, body in enumerate(bodies):
        position = f"{where}[{index}]"
        if not isinstance(body, dict):
            out.problems.append(
                P2CError(
                    f"expected a JSON object, got {_json_kind(body)}",
                    record=position,
                    fix='write each record as {"column": value, ...}',
                )
            )
            continue
        row: dict[str, Any] = {}
        # Columns already reported as wrong: not also reported as missing.
        wrong: set[str] = set()
        for name, value in body.items():
            problem = _take(target, position, name, value, row, out.bindings, wrong)
            if problem is not None:
                out.problems.append(problem)
        if not update:
            out.problems += _missing(target, position, row, wrong)
        out.rows.append(row)
    return out


def _take(
    target: _Target,
    position: str,
    name: str,
    value: Any,
    row: dict[str, Any],
    bindings: list[Binding],
    wrong: set[str],
) -> P2CError | None:
    """Put one name/value of a body into ``row`` (or a binding), or say what is wrong;
    ``wrong`` gets the columns whose value is wrong."""
    entity = target.entity
    shown = printable(name)
    if name.endswith("@odata.bind"):
        return _bind(target, position, name, value, row, bindings, wrong)
    if name.startswith("@") or "@" in name:
        return None  # OData annotations such as @odata.type carry no data
    f = entity.by_name.get(name)
    if f is None or name not in target.visible:
        fix = _suggest(shown, target.visible)
        return P2CError(
            f"{entity.name} has no column {shown!r}", record=position, field=shown, fix=fix
        )
    if f.read_only:
        return P2CError(
            f"{name} is set by the system", record=position, field=name, fix="remove it"
        )
    if f.type is FieldType.LOOKUP:
        return P2CError(
            f"{name} is a lookup and is set by binding",
            record=position,
            field=name,
            fix=f'write "{_navs_of(f, target.navs)[0]}@odata.bind": "/<entity set>(<id>)"',
        )
    why = _unstorable(value)
    if why is None:
        try:
            row[name] = entity.coercers[name](value)
            return None
        except ValueError as exc:
            why = str(exc)
    wrong.add(name)
    return P2CError(why, record=position, field=name, fix=f"give {f.display} a valid value")


def _bind(
    target: _Target,
    position: str,
    name: str,
    value: Any,
    row: dict[str, Any],
    bindings: list[Binding],
    wrong: set[str],
) -> P2CError | None:
    """A lookup given as ``<nav>@odata.bind``: checked, its row column left to resolve."""
    nav = name[: -len("@odata.bind")]
    if nav not in target.navs:
        shown = printable(nav)
        return P2CError(
            f"{target.entity.name} has no navigation property {shown!r}",
            record=position,
            field=printable(name),
            fix=_suggest(shown, target.navs),
        )
    lookup, to = target.navs[nav]
    problem = _reference(target, nav, value)
    if problem is not None:
        wrong.add(lookup.name)
        return P2CError(problem[0], record=position, field=name, fix=problem[1])
    _set_name, key = parse_reference(value)
    row[lookup.name] = None  # filled when the binding resolves
    if lookup.polymorphic:
        row[lookup.name + "type"] = to
    bindings.append(Binding(position, lookup.name, name, to, key, row))
    return None


def _reference(target: _Target, nav: str, value: Any) -> tuple[str, str | None] | None:
    """What is wrong with a reference (message, fix), or None; the key is parsed again when
    the binding is made."""
    to = target.navs[nav][1]
    why = _unstorable(value)
    if why is None and not isinstance(value, str):
        why = f"expects a reference such as /accounts(<id>), got {_json_kind(value)}"
    if why is not None:
        return why, f"bind {nav} to /{_set_of(to, target.entity_sets)}(<id>)"
    try:
        set_name, _key = parse_reference(value)
    except ValueError as exc:
        return str(exc), None
    if target.entity_sets.get(set_name) != to:
        return (
            f"{nav} points at {to} records, not at {set_name!r}",
            f"bind to /{_set_of(to, target.entity_sets)}(<id>)",
        )
    return None


def _missing(
    target: _Target, position: str, row: dict[str, Any], wrong: set[str]
) -> list[P2CError]:
    """Required columns and lookups a new record lacks (those reported wrong aside)."""
    problems = []
    for f in target.entity.fields:
        if not f.required or f.name in wrong:
            continue
        if f.type is FieldType.LOOKUP:
            if f.name not in row:
                fix = f"bind it with {_navs_of(f, target.navs)[0]}@odata.bind"
                problems.append(
                    P2CError(
                        f"{f.display} ({f.name}) is required",
                        record=position,
                        field=f.name,
                        fix=fix,
                    )
                )
        elif row.get(f.name) in (None, ""):
            problems.append(
                P2CError(
                    f"{f.display} ({f.name}) is required",
                    record=position,
                    field=f.name,
                    fix=f"give {f.name} a value",
                )
            )
    return problems


def _unstorable(value: Any) -> str | None:
    """Why no column can hold a JSON value whatever its type, or None.

    NaN and Infinity (Python's reader takes them, and 1e400 reads as infinity), half of a
    UTF-16 surrogate pair (``"\\ud800"``), and nested objects or arrays; said without
    repeating the value, which may be large."""
    if isinstance(value, float) and not math.isfinite(value):
        name = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        return (
            f"{name} is not a JSON number (a number too large for a float, such as 1e400, "
            "reads as Infinity)"
        )
    if isinstance(value, str) and not value.isascii() and printable(value) != value:
        return (
            f"the text {printable(value)[:40]!r} holds half of a UTF-16 surrogate pair, which "
            "no system stores; give both halves of the pair or remove the \\u escape"
        )
    if isinstance(value, dict | list):
        return f"expects a single value, got {_json_kind(value)}"
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return f"a JSON array of {len(value)} item(s)"
    return f"{type(value).__name__} {printable(repr(value))[:60]}"


def _navs_of(lookup: Field, navs: dict[str, tuple[Field, str]]) -> list[str]:
    return [name for name, (f, _) in navs.items() if f is lookup]


def _set_of(logical: str, entity_sets: dict[str, str]) -> str:
    return next((s for s, name in entity_sets.items() if name == logical), logical)


def raise_problems(problems: list[P2CError], what: str) -> None:
    if problems:
        shown = problems[:50]
        more = f" (and {len(problems) - 50} more)" if len(problems) > 50 else ""
        raise InputError(f"{what}: {len(problems)} problem(s){more}; nothing was written.", shown)


def present(entity: Entity, fields: list[Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row in Web API form."""
    out: dict[str, Any] = {}
    for f in fields:
        value = f.present(row.get(f.name))
        out[f.name] = value
        if f.targets:
            target = row.get(f.name + "type") if f.polymorphic else f.targets[0]
            if f.polymorphic:
                out[f.name + "type"] = target
            out[f"_{f.name}_value"] = value
            out[f"_{f.name}_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = (
                target if value is not None else None
            )
    return out
