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
    intake = _Intake(entity, visible, entity_sets, update)
    for index, body in enumerate(bodies):
        intake.take(f"{where}[{index}]", body)
    return intake.out


class _Intake:
    """The bodies of one entity, taken one at a time into ``out``."""

    def __init__(
        self, entity: Entity, visible: set[str], entity_sets: dict[str, str], update: bool
    ) -> None:
        self.entity = entity
        self.visible = visible
        self.entity_sets = entity_sets
        self.update = update
        self.navs = navigation_properties(entity)
        required = [f for f in entity.fields if f.required]
        self.required = [f for f in required if f.type is not FieldType.LOOKUP]
        self.required_lookups = [f for f in required if f.type is FieldType.LOOKUP]
        self.out = Prepared()

    def problem(self, message: str, position: str, name: str | None, fix: str | None) -> None:
        self.out.problems.append(P2CError(message, record=position, field=name, fix=fix))

    def take(self, position: str, body: Any) -> None:
        if not isinstance(body, dict):
            fix = 'write each record as {"column": value, ...}'
            self.problem(f"expected a JSON object, got {type(body).__name__}", position, None, fix)
            return
        entity, visible, coercers = self.entity, self.visible, self.entity.coercers
        row: dict[str, Any] = {}
        # Columns already reported as wrong: not also reported as missing.
        wrong: set[str] = set()
        for name, value in body.items():
            if name.endswith("@odata.bind"):
                self._bind(position, name, value, row, wrong)
                continue
            if "@" in name:
                continue  # OData annotations such as @odata.type carry no data
            f = entity.by_name.get(name)
            if f is None or name not in visible or f.read_only or f.type is FieldType.LOOKUP:
                self._refuse_column(position, name, f)
                continue
            try:
                row[name] = coercers[name](value)
            except ValueError as exc:
                self.problem(str(exc), position, name, f"give {f.display} a valid value")
                wrong.add(name)
        if not self.update:
            self._required(position, row, wrong)
        self.out.rows.append(row)

    def _bind(
        self, position: str, name: str, value: Any, row: dict[str, Any], wrong: set[str]
    ) -> None:
        """A lookup given as ``<navigation property>@odata.bind``: a binding to resolve."""
        nav = name[: -len("@odata.bind")]
        if nav not in self.navs:
            message = f"{self.entity.name} has no navigation property {nav!r}"
            self.problem(message, position, name, _suggest(nav, self.navs))
            return
        lookup, target = self.navs[nav]
        try:
            set_name, key = parse_reference(str(value))
        except ValueError as exc:
            self.problem(str(exc), position, name, None)
            wrong.add(lookup.name)
            return
        if self.entity_sets.get(set_name) != target:
            fix = f"bind to /{_set_of(target, self.entity_sets)}(<id>)"
            self.problem(
                f"{nav} points at {target} records, not at {set_name!r}", position, name, fix
            )
            wrong.add(lookup.name)
            return
        row[lookup.name] = None  # filled when the binding resolves
        if lookup.polymorphic:
            row[lookup.name + "type"] = target
        self.out.bindings.append(Binding(position, lookup.name, name, target, key, row))

    def _refuse_column(self, position: str, name: str, f: Field | None) -> None:
        """A column that does not exist, is set by the system or is a lookup."""
        if f is None or name not in self.visible:
            message = f"{self.entity.name} has no column {name!r}"
            self.problem(message, position, name, _suggest(name, self.visible))
        elif f.read_only:
            self.problem(f"{name} is set by the system", position, name, "remove it")
        else:
            nav = _navs_of(f, self.navs)[0]
            fix = f'write "{nav}@odata.bind": "/<entity set>(<id>)"'
            self.problem(f"{name} is a lookup and is set by binding", position, name, fix)

    def _required(self, position: str, row: dict[str, Any], wrong: set[str]) -> None:
        """Required columns, then required lookups, that a create leaves empty."""
        for f in self.required:
            if row.get(f.name) in (None, "") and f.name not in wrong:
                message = f"{f.display} ({f.name}) is required"
                self.problem(message, position, f.name, f"give {f.name} a value")
        for f in self.required_lookups:
            if f.name not in row and f.name not in wrong:
                fix = f"bind it with {_navs_of(f, self.navs)[0]}@odata.bind"
                self.problem(f"{f.display} ({f.name}) is required", position, f.name, fix)


def _navs_of(lookup: Field, navs: dict[str, tuple[Field, str]]) -> list[str]:
    return [name for name, (f, _) in navs.items() if f is lookup]


def _set_of(logical: str, entity_sets: dict[str, str]) -> str:
    return next((s for s, name in entity_sets.items() if name == logical), logical)


def raise_problems(problems: list[P2CError], what: str) -> None:
    if problems:
        shown = problems[:50]
        more = f" (and {len(problems) - 50} more)" if len(problems) > 50 else ""
        raise InputError(f"{what}: {len(problems)} problem(s){more}; nothing was written.", shown)
