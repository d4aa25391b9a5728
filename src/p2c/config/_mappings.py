"""A project's mappings checked leg by leg against the model of Dynamics: the destination
fields, the source fields and lookup paths, the type of every constant (converted where F&O
would), key fields, value maps that leave unmatched values nowhere to go, and the filter.

A problem in a change the project makes is named at its line in p2c.yaml; one in the
template (never in a built-in one: a test sees to it) at the project's ``template`` key.
"""

from __future__ import annotations

__all__ = ["LegOrigin", "check_leg"]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from p2c._errors import P2CError
from p2c.config._fields import (
    closed_values,
    coerce_constant,
    describe,
    destination_field,
    family,
    source_field,
)
from p2c.config._filters import check_filter
from p2c.config._problems import Loc, Mismatch, Problem
from p2c.dynamics import Entity, Field, FieldType, system_model
from p2c.templates import Copy, Default, Fn, Leg, Transform, ValueMap

if TYPE_CHECKING:
    from p2c.workspace import LegChanges, TaskChanges

T = FieldType


@dataclass(frozen=True)
class LegOrigin:
    """Where the changes a project makes to one leg of its template are in p2c.yaml.

    Args:
        project: The project's key path (``("projects", 2)``).
        task: The task's name.
        changes: The task's changes, as p2c.yaml gives them (a `TaskChanges`), or None.
        leg: The leg's name.
        first: The leg reads Sales (task-level ``filter`` applies to it).
        last: The leg writes F&O (task-level ``map`` and ``remove`` apply to it).
    """

    project: Loc
    task: str
    changes: TaskChanges | None
    leg: str
    first: bool
    last: bool

    @property
    def template(self) -> Loc:
        return (*self.project, "template")

    @property
    def task_loc(self) -> Loc:
        return (*self.project, "tasks", self.task) if self.changes is not None else self.template

    def _leg_changes(self) -> LegChanges | None:
        return self.changes.legs.get(self.leg) if self.changes is not None else None

    def map_loc(self, field: str) -> Loc | None:
        """Where the project maps ``field`` of this leg; None when the template does."""
        leg = self._leg_changes()
        if leg is not None and field in leg.map:
            return (*self.task_loc, "legs", self.leg, "map", field)
        if self.last and self.changes is not None and field in self.changes.map:
            return (*self.task_loc, "map", field)
        return None

    def remove_loc(self, field: str) -> Loc | None:
        """Where the project removes ``field`` from this leg; None when it does not."""
        leg = self._leg_changes()
        if leg is not None and field in leg.remove:
            return (*self.task_loc, "legs", self.leg, "remove", leg.remove.index(field))
        if self.last and self.changes is not None and field in self.changes.remove:
            return (*self.task_loc, "remove", self.changes.remove.index(field))
        return None

    def filter_loc(self) -> Loc | None:
        """Where the project sets this leg's filter; None when it is the template's."""
        leg = self._leg_changes()
        if leg is not None and leg.filter is not None:
            return (*self.task_loc, "legs", self.leg, "filter")
        if self.first and self.changes is not None and self.changes.filter is not None:
            return (*self.task_loc, "filter")
        return None

    def named(self, loc: Loc | None) -> tuple[Loc, str]:
        """The key path of a problem, and what its message starts with when the problem is
        the template's (a line of p2c.yaml cannot show it)."""
        if loc is not None:
            return loc, ""
        return self.template, f"task {self.task!r}, leg {self.leg!r}: "


def check_leg(leg: Leg, origin: LegOrigin) -> tuple[list[Problem], dict[str, Transform]]:
    """Check one leg of a project's effective template.

    Returns:
        The problems, and the transforms the project gives whose constants were converted
        to the field's form (``SiteId: {default: 1}`` -> ``"1"``), by destination field.
    """
    try:
        sources = system_model(leg.source.system)
        source = sources.entity(leg.source.entity)
        destination = system_model(leg.destination.system).entity(leg.destination.entity)
    except P2CError as error:  # a template that names no entity of the model
        loc, prefix = origin.named(None)
        return [Problem(loc, prefix + str(error), "correct the template")], {}
    problems: list[Problem] = []
    converted: dict[str, Transform] = {}
    for name, transform in leg.map.items():
        at = origin.map_loc(name)
        try:
            field = destination_field(destination, name)
            reads = [source_field(sources, source, s) for s in transform.source_fields()]
            new = _convert(transform, field)
            _check_flow(new, field, reads, source)
        except Mismatch as wrong:
            loc, prefix = origin.named(at)
            below = wrong.at if at is not None else ()
            problems.append(Problem((*loc, *below), prefix + wrong.message, wrong.fix))
            continue
        if at is not None and new is not transform:
            converted[name] = new
    problems.extend(_unmapped_keys(leg, destination, origin))
    if leg.source.filter:
        loc, prefix = origin.named(origin.filter_loc())
        for problem in check_filter(leg.source.filter, sources, source):
            problems.append(Problem(loc, prefix + problem.message, problem.fix))
    return problems, converted


def _convert(transform: Transform, field: Field) -> Transform:
    """The transform with its constants in the field's form (the same object when they are)."""
    if isinstance(transform, Copy):
        return transform
    changes: dict[str, Any] = {}
    if transform.default is not None:
        changes["default"] = _constant(field, transform.default, ("default",))
    if isinstance(transform, ValueMap | Fn):
        if transform.value_map is not None:
            changes["value_map"] = {
                key: _constant(field, value, ("value_map", key))
                for key, value in transform.value_map.items()
            }
        if transform.has_else:
            changes["otherwise"] = _constant(field, transform.otherwise, ("else",))
    if all(_identical(getattr(transform, k), v) for k, v in changes.items()):
        return transform
    return transform.model_copy(update=changes)


def _identical(before: Any, after: Any) -> bool:
    """Equal and of the same type (1.0 == 1, but an Int32 field takes only the 1)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return before.keys() == after.keys() and all(
            _identical(before[k], after[k]) for k in before
        )
    return type(before) is type(after) and before == after


def _constant(field: Field, value: Any, at: Loc) -> Any:
    try:
        return coerce_constant(field, value)
    except Mismatch as problem:
        problem.at = at
        raise


def _check_flow(transform: Transform, field: Field, reads: list[Field], entity: Entity) -> None:
    """Whether the values the transform hands on can be written to ``field``."""
    table = transform.value_map if isinstance(transform, ValueMap | Fn) else None
    if table:
        assert isinstance(transform, ValueMap | Fn)
        _check_value_map(transform, table, field, reads, entity)
    elif isinstance(transform, Copy | Default | ValueMap) and reads:
        _compatible(reads[0], field)


def _compatible(read: Field, field: Field) -> None:
    """A source field copied as it is must be of the field's kind (text, number, yes/no)."""
    number_into_whole = field.type in (T.INT, T.PICKLIST) and read.type is T.MONEY
    if family(read.type) == family(field.type) and not number_into_whole:
        return
    if read.type is T.BOOL and field.type is T.NOYES:
        fix = f'map the values: {{from: {read.name}, value_map: {{"true": "Yes", "false": "No"}}}}'
    else:
        fix = "map a source field of the same kind, or map its values with value_map and else:"
    raise Mismatch(
        f"{read.name} is {describe(read)} and {field.name} takes {describe(field)}: every "
        "record with a value would be refused",
        fix,
    )


def _check_value_map(
    transform: ValueMap | Fn,
    table: dict[str, Any],
    field: Field,
    reads: list[Field],
    entity: Entity,
) -> None:
    blank = table.get("")
    empties = [v for v in table.values() if v is None or v == ""]
    if transform.has_else and transform.otherwise in (None, ""):
        empties.append(transform.otherwise)
    if transform.default is not None and blank not in (None, "") and not empties:
        raise Mismatch(
            'default never applies: the blank key "" already says what an empty value '
            "becomes, and no other rule leaves the field empty",
            'remove default, or the blank key ""',
            at=("default",),
        )
    if transform.has_else:
        return
    read = reads[0] if isinstance(transform, ValueMap) and reads else None
    closed = closed_values(entity, transform.source or "", read) if read else None
    if closed is not None and closed <= set(table):
        return  # every value the source can hold has a rule
    passing = read.type if read is not None else T.STRING
    if field.type not in (T.ENUM, T.NOYES) and family(passing) == family(field.type):
        return  # an unmatched value passes through and fits
    what = f"a {read.name} value" if read is not None else "a value"
    example = _fallback(field)
    empty = f'else: "" (an unmatched value leaves {field.name} empty)'
    raise Mismatch(
        f"{field.name} takes {describe(field)}, and {what} the map does not name (an option "
        f"added in the environment, say) would pass through as {family(passing)} and be "
        "refused",
        f"add {empty}"
        if example == '""'
        else f"add else: {example} (what an unmatched value becomes), or {empty}",
        at=("value_map",),
    )


def _fallback(field: Field) -> str:
    for option in ("Unknown", "None", "No"):
        if option in field.options or (option == "No" and field.type is T.NOYES):
            return option
    return str(field.options[0]) if field.options else '""'


def _unmapped_keys(leg: Leg, destination: Entity, origin: LegOrigin) -> list[Problem]:
    """Key and required fields the leg leaves empty: every record would be refused."""
    needed = [*destination.key]
    needed += [f.name for f in destination.fields if f.required and f.default is None]
    problems = []
    for name in dict.fromkeys(needed):
        if name in leg.map or name == destination.organization:
            continue
        what = "a key field" if name in destination.key else "a required field"
        removed = origin.remove_loc(name)
        if removed is not None:
            problems.append(
                Problem(
                    removed,
                    f"{name} is {what} of {destination.entity_set}, and the project removes it: "
                    "every record would be refused",
                    f"take {name} out of remove",
                )
            )
            continue
        loc, prefix = origin.named(origin.task_loc if origin.changes is not None else None)
        problems.append(
            Problem(
                loc,
                prefix + f"leg {leg.name!r} does not map {name}, {what} of "
                f"{destination.entity_set}: every record would be refused",
                f"map it, e.g. {name}: <source field>",
            )
        )
    return problems
