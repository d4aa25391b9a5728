"""What to do about a failed record: the fix shown next to its reason, by the admin center's
run page and error queue and by ``p2c errors``.

A fix reads the destination's rejection (the wording of F&O's and the CDS hub's rules, as
the sandbox and the emulator give it) and the project's effective mapping of the field it
names: where the value comes from (a source field, the project's default, a value map and
its entry, a function, or the organization mapping) and so what to change, and where.
The engine stays out of it: it records the field and the reason, nothing more.
"""

from __future__ import annotations

__all__ = ["record_fix"]

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2c.dynamics import system_model
from p2c.templates import Copy, Default, Fn, Leg, Template, Transform, ValueMap, map_key

_SYSTEMS = {"sales": "Sales", "finops": "F&O", "cds": "CDS"}
EDITOR = "in the mapping editor"
# The groups that stand for one another in the alternatives of a pattern.
_ALIASES = {"value": ("value", "cds_value", "number"), "valid": ("valid", "options")}
# The fields the engine sets from the organization mapping, not from the project's map.
_ORGANIZATION_KEYS = {
    "dataAreaId": "legal_entity",
    "Organization_OrganizationId": "cds_organization",
    "PrimaryAccount_Organization_OrganizationId": "cds_organization",
}


@dataclass(frozen=True)
class _Origin:
    """Where a destination field's value comes from, in the project's effective mapping."""

    field: str
    system: str  # the destination system's label
    transform: Transform | None
    where: str  # the source field in words: "the contact's firstname in Sales", or ""

    @property
    def text(self) -> str:
        """``PersonFirstName is copied from the contact's firstname in Sales``."""
        t, f = self.transform, self.field
        if isinstance(t, Copy):
            return f"{f} is copied from {self.where}"
        if isinstance(t, Default):
            if t.source:
                return f"{f} is copied from {self.where}, or {_show(t.default)} when that is empty"
            return f"{f} is the project's default, {_show(t.default)}"
        if isinstance(t, ValueMap):
            return f"{f} is mapped from {self.where} by the value map of {f}"
        if isinstance(t, Fn):
            return f"{f} is computed by fn {t.fn} from {self.where}"
        return f"The project does not map {f}"


@dataclass(frozen=True)
class _Case:
    match: re.Match[str]
    origin: _Origin | None
    template: Template
    then: str  # "then Retry selected"
    editor: str  # "in the mapping editor"

    def group(self, name: str) -> str:
        """A group of the wording that matched; ``value`` and ``valid`` from whichever
        alternative of the pattern matched."""
        found = self.match.groupdict()
        for alias in _ALIASES.get(name, (name,)):
            if found.get(alias):
                return str(found[alias])
        return ""


def record_fix(
    template: Template,
    task: str,
    leg: str | None,
    field: str | None,
    message: str,
    *,
    retryable: bool = False,
    retry: str = "Retry selected",
    editor: str = EDITOR,
) -> str:
    """What to do about a record the destination refused, in one or two sentences.

    Args:
        template: The project's effective template (the template with the project's
            changes, as the project page shows it).
        task: The task of the failed record.
        leg: Its leg's name, when known (a task through CDS has two).
        field: The field the rejection names, when it names one.
        message: The rejection (the reason shown beside the fix).
        retryable: A passing failure (timeout, throttling, outage) the next run retries.
        retry: How the user retries, in the face's words (``Retry selected``, ``p2c retry
            --record KEY``).
        editor: Where the user changes a mapping (``in the mapping editor``, ``with p2c
            mapping set``).
    """
    then = f"then {retry}"
    if retryable:
        return (
            "A passing failure (a timeout, throttling or an outage): the next run retries it, "
            f"or {retry} now."
        )
    origin = _origin(template, task, leg, field) if field else None
    for pattern, fix in _CASES:
        found = pattern.search(message)
        if found:
            return fix(_Case(found, origin, template, then, editor))
    return _generic(origin, then, editor)


# where a value comes from ----------------------------------------------------------------


def _origin(template: Template, task: str, leg: str | None, field: str) -> _Origin | None:
    legs = next((t.legs for t in template.tasks if t.name == task), None)
    if not legs:
        return None
    index = _leg_index(legs, leg, field)
    found = legs[index]
    system = _SYSTEMS.get(found.destination.system, found.destination.system)
    transform = found.map.get(field)
    if transform is None:
        return _Origin(field, system, None, "")
    return _Origin(field, system, transform, _sources(legs, index, transform))


def _leg_index(legs: list[Leg], leg: str | None, field: str) -> int:
    for index, each in enumerate(legs):
        if leg and each.name == leg:
            return index
    for index in range(len(legs) - 1, -1, -1):
        if field in legs[index].map:
            return index
    return len(legs) - 1


def _sources(legs: list[Leg], index: int, transform: Transform) -> str:
    fields = transform.source_fields()
    if not fields:
        return ""
    return " and ".join(_where(legs, index, name) for name in fields)


def _where(legs: list[Leg], index: int, path: str) -> str:
    """``the contact's firstname in Sales``; a lookup path ``parentcustomerid.accountnumber``
    as ``the accountnumber of the contact's parentcustomerid``; a CDS field a previous leg
    fills, with where that leg takes it from."""
    source = legs[index].source
    model = system_model(source.system)
    entity = model.find(source.entity)
    noun = (entity.label or entity.name) if entity else source.entity
    if source.system == "sales":
        noun = noun.lower()
    system = _SYSTEMS.get(source.system, source.system)
    *lookups, name = path.split(".")
    owner = f"the {noun}'s " + "".join(f"{lookup}'s " for lookup in lookups)
    text = f"{owner}{name} in {system}"
    if index > 0 and not lookups:
        before = legs[index - 1]
        feeding = before.map.get(name)
        if before.destination.entity == source.entity and isinstance(feeding, Copy):
            earlier = _where(legs, index - 1, feeding.source)
            text += f" (which the leg {before.name} copies from {earlier})"
    return text


# the rejections, by their wording ----------------------------------------------------------


def _length(case: _Case) -> str:
    limit, length = case.group("limit"), case.group("length")
    origin = case.origin
    t = origin.transform if origin else None
    if origin is None or t is None:
        return _generic(origin, case.then, case.editor, f"make it {limit} characters at most")
    system = origin.system
    if isinstance(t, Default) and not t.source:
        return (
            f"The project's default for {origin.field} is {_show(t.default)}, {length} "
            f"characters; {system} takes {limit}: shorten it {case.editor}, {case.then}."
        )
    if isinstance(t, ValueMap):
        return (
            f"{origin.text}, which gives a value of {length} characters; {system} takes "
            f"{limit}: shorten that entry of the value map {case.editor} (a value the map does "
            f"not name passes through: shorten it at the source), {case.then}."
        )
    if isinstance(t, Fn):
        return (
            f"{origin.text}, {length} characters; {system} takes {limit}: truncate it (fn "
            f"truncate, length {limit}) {case.editor}, {case.then}."
        )
    return (
        f"{origin.text}: shorten it to {limit} characters there (or map it through a "
        f"function, fn truncate with length {limit}, {case.editor}), {case.then}."
    )


def _not_found(case: _Case) -> str:
    value, table, company = case.group("value"), case.group("table"), case.group("company")
    create = f"create {_show(value)} in F&O's {table}" + (
        f" (company {company})" if company else ""
    )
    lacks = f"which F&O's {table} lacks" + (f" for company {company}" if company else "")
    origin = case.origin
    t = origin.transform if origin else None
    if origin is None:
        return f"F&O's {table} lacks {_show(value)}: {create}, {case.then}."
    if isinstance(t, ValueMap | Fn) and t.value_map is not None:
        return f"{_value_map_text(origin, t, value, lacks, create, case.editor)}; {case.then}."
    if isinstance(t, Default) and not t.source and not _same(t.default, value):
        return _changed_since(origin, t, value, case)
    if isinstance(t, Default) and _same(t.default, value):
        return (
            f"The project's default for {origin.field} is {_show(value)}, {lacks}: change "
            f"the default {case.editor} to one that exists, or {create}; {case.then}."
        )
    if t is None:
        return (
            f"{origin.text}; F&O filled in {_show(value)}, {lacks}: {create}, or give "
            f"{origin.field} a default that exists {case.editor}; {case.then}."
        )
    return (
        f"{origin.text}; for this record it is {_show(value)}, {lacks}: correct it there, "
        f"map it through a value map {case.editor}, or {create}; {case.then}."
    )


def _value_map_text(
    origin: _Origin, t: ValueMap | Fn, value: str, lacks: str, create: str | None, editor: str
) -> str:
    """What the value map of the field did with the value: an entry, its else, or nothing
    (the value passed through)."""
    table = t.value_map or {}
    entries = [key for key, mapped in table.items() if _same(mapped, value)]
    head = f"{origin.field} is mapped from {origin.where}"
    otherwise = f", or {create}" if create else ""
    if entries:
        keys = ", ".join(_show(key if key else "(blank)") for key in entries)
        return (
            f"{head}: its value map turns {keys} into {_show(value)}, {lacks}: change that "
            f"entry of the value map of {origin.field} {editor}{otherwise}"
        )
    if t.has_else and _same(t.otherwise, value):
        return (
            f"{head}: its value map turns the values it does not name into its else value "
            f"{_show(value)}, {lacks}: change the else value of the value map of "
            f"{origin.field} {editor}{otherwise}"
        )
    return (
        f"{head}, and its value map has no entry for {_show(value)}, so the value passed "
        f"through unchanged, {lacks}: add {_show(value)} → a value F&O has (or an else value) "
        f"to the value map of {origin.field} {editor}, or correct {origin.where}"
    )


def _must_fill(case: _Case) -> str:
    origin = case.origin
    t = origin.transform if origin else None
    if origin is None:
        return _generic(origin, case.then, case.editor, "fill it in")
    if t is None:
        return (
            f"The project does not map {origin.field}, which {origin.system} requires: add a "
            f"mapping for it (a source field or a default) {case.editor}, {case.then}."
        )
    if isinstance(t, Copy) or (isinstance(t, Default) and t.source):
        source = t.source
        return (
            f"{origin.text}, which is empty for this record: fill it in there, or give "
            f"{origin.field} a default for an empty value (from: {source}, default: …) "
            f"{case.editor}; {case.then}."
        )
    if isinstance(t, ValueMap | Fn):
        return (
            f"{origin.text}, which gives an empty value for this record: add an entry for it "
            f"(the blank key is the one for an empty source) or a default to the value map "
            f"of {origin.field} {case.editor}, or fill in {origin.where}; {case.then}."
        )
    return _generic(origin, case.then, case.editor)


def _missing_parent(case: _Case) -> str:
    value = case.group("value")
    system = "CDS" if case.group("cds") else "F&O"
    requires = case.template.requires
    first = (
        f"run the project {' and '.join(requires)} first"
        if requires
        else "run the project that synchronizes accounts first"
    )
    where = f" ({case.origin.text})" if case.origin and case.origin.transform else ""
    return (
        f"The company {_show(value)} this record belongs to is not in {system} yet{where}: "
        f"{first} (it creates the company's account there), or if it ran, fix that "
        f"account's own failure on its run page; {case.then}."
    )


def _organization(case: _Case) -> str:
    value, system = case.group("value"), "CDS" if case.group("cds") else "F&O"
    one, known = (
        ("organization", "organizations") if system == "CDS" else ("legal entity", "legal entities")
    )
    origin = case.origin
    if origin and isinstance(origin.transform, Default) and not origin.transform.source:
        return (
            f"The project's default for {origin.field} is {_show(value)}, which {system} "
            f"lacks: change it {case.editor} to one of the {known} the reason names, or create "
            f"it in {system}; {case.then}."
        )
    key = _ORGANIZATION_KEYS.get(origin.field if origin else "", "legal_entity")
    return (
        f"The record's {one} "
        f"{_show(value)} comes from the organization mapping of the project's connection set "
        f"in p2c.yaml ({key}), and {system} has no such one: correct it to one of the "
        f"{known} the reason names, or create it in {system}; {case.then}."
    )


def _warehouse(case: _Case) -> str:
    site, other = case.group("site"), case.group("other")
    origin = case.origin
    told = f"{origin.text}. " if origin and origin.transform else ""
    return (
        f"{told}Warehouse {case.group('warehouse')} belongs to site {other}, not {site}: "
        f"make SiteId and WarehouseId a pair F&O has (a default or a value map for each "
        f"{case.editor}, or the values at the source), {case.then}."
    )


def _invalid(case: _Case) -> str:
    value, valid = case.group("value"), case.group("valid")
    origin = case.origin
    t = origin.transform if origin else None
    if origin is None:
        return _generic(origin, case.then, case.editor, f"use one of {valid}")
    takes = f"{origin.system} takes one of {valid}"
    if isinstance(t, ValueMap | Fn) and t.value_map is not None:
        refused = f"which {origin.system} does not take (it takes one of {valid})"
        return f"{_value_map_text(origin, t, value, refused, None, case.editor)}; {case.then}."
    if isinstance(t, Default) and not t.source and not _same(t.default, value):
        return _changed_since(origin, t, value, case)
    if isinstance(t, Default) and _same(t.default, value):
        return (
            f"The project's default for {origin.field} is {_show(value)}; {takes}: change it "
            f"{case.editor}, {case.then}."
        )
    return (
        f"{origin.text}, which is {_show(value)} for this record; {takes}: map it through a "
        f"value map {case.editor}, or correct it there; {case.then}."
    )


def _changed_since(origin: _Origin, t: Default, value: str, case: _Case) -> str:
    """The record was refused with a default the project has changed since."""
    return (
        f"The project's default for {origin.field} is {_show(t.default)} now (the record was "
        f"refused with {_show(value)}): {case.then.removeprefix('then ')} to write it with "
        "the mapping as it is now."
    )


def _unknown_field(case: _Case) -> str:
    field = case.group("field")
    return (
        f"The mapping writes {field}, a field the destination does not have: remove or rename "
        f"it {case.editor}, {case.then}."
    )


def _generic(
    origin: _Origin | None, then: str, editor: str, what: str = "correct the value"
) -> str:
    if origin is None:
        return (
            "Correct the record at the source, or the project's mapping or the destination's "
            f"setup the reason names; {then}."
        )
    if origin.transform is None:
        return (
            f"The project does not map {origin.field}: {what} in {origin.system}, or add a "
            f"mapping for it {editor}; {then}."
        )
    place = "there" if origin.where else editor
    return f"{origin.text}: {what} {place} (or change the mapping {editor}); {then}."


def _show(value: Any) -> str:
    return "(empty)" if value is None else f"'{value}'"


def _same(mapped: Any, value: str) -> bool:
    return mapped is not None and map_key(mapped) == value


_Fix = Callable[[_Case], str]
_CASES: tuple[tuple[re.Pattern[str], _Fix], ...] = (
    (
        re.compile(
            r"value is (?P<length>\d+) characters long; the maximum length is (?P<limit>\d+)"
        ),
        _length,
    ),
    (
        re.compile(
            r"The value '(?P<value>.*)' in field '[^']*' \((?P<field>\w+)\) is not found in the "
            r"relating table '(?P<table>[^']+)'(?: for company '(?P<company>[^']+)')?"
        ),
        _not_found,
    ),
    (
        re.compile(
            r"The party '(?P<value>[^']+)' in field .* does not exist"
            r"|Account '(?P<cds_value>[^']+)' of organization '[^']+' "
            r"does not exist in (?P<cds>CDS)"
        ),
        _missing_parent,
    ),
    (
        re.compile(
            r"Company '(?P<value>[^']+)' does not exist"
            r"|Organization '(?P<cds_value>[^']+)' does not exist in (?P<cds>CDS)"
        ),
        _organization,
    ),
    (
        re.compile(
            r"Warehouse (?P<warehouse>\S+) is not connected to site (?P<site>\S+?); "
            r"it belongs to site (?P<other>\S+?)\.$"
        ),
        _warehouse,
    ),
    (
        re.compile(
            r"'(?P<value>.*)' is not a valid value; valid: (?P<valid>.*?)\.?$"
            r"|(?P<number>-?\d+) is not a valid option; valid: (?P<options>.*?)\.?$"
        ),
        _invalid,
    ),
    (
        re.compile(
            r"must be filled in|is required\.|All fields in the entity key must be provided"
        ),
        _must_fill,
    ),
    (re.compile(r"The property '(?P<field>[^']+)' does not exist on type"), _unknown_field),
)
