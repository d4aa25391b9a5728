"""What the model of Dynamics (``p2c.dynamics``) says about the names and values in p2c.yaml:
a destination field, a source field or lookup path, a constant for a field, and which
values a source field can hold."""

from __future__ import annotations

__all__ = [
    "closed_values",
    "coerce_constant",
    "describe",
    "destination_field",
    "family",
    "literal",
    "source_field",
]

import re
from datetime import date, datetime
from typing import Any

from p2c.config._problems import Mismatch, near
from p2c.dynamics import Entity, Field, FieldType, SystemModel
from p2c.templates import map_key

T = FieldType
_TEXT = (T.STRING, T.GUID, T.LOOKUP, T.DATETIME, T.ENUM, T.NOYES)
_NUMBER = (T.INT, T.PICKLIST, T.MONEY)
_YES, _NO = ("yes", "true"), ("no", "false")


def family(kind: FieldType) -> str:
    """How a value of the type travels in JSON: text, a number, or true/false."""
    if kind in _TEXT:
        return "text"
    return "a number" if kind in _NUMBER else "true/false"


def describe(field: Field) -> str:
    """What a field takes, in words: ``text of at most 10 characters``."""
    kind = field.type
    if kind is T.STRING:
        return f"text of at most {field.max_length} characters" if field.max_length else "text"
    if kind is T.PICKLIST and field.options:
        labels = field.option_labels or tuple(str(o) for o in field.options)
        shown = ", ".join(f"{o} {label}" for o, label in zip(field.options, labels, strict=False))
        return f"a choice ({shown})"
    if kind is T.ENUM:
        return f"one of {', '.join(map(str, field.options))}"
    return {
        T.INT: "a whole number",
        T.PICKLIST: "a choice (a whole number)",
        T.MONEY: "an amount",
        T.BOOL: "yes/no (true or false)",
        T.GUID: "a GUID",
        T.LOOKUP: "a lookup (a GUID)",
        T.DATETIME: "a date and time",
        T.NOYES: "NoYes (Yes or No)",
    }[kind]


def literal(value: Any) -> str:
    """A value as p2c.yaml or a filter writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def destination_field(entity: Entity, name: str) -> Field:
    """The field of a destination entity; Mismatch naming the near ones when unknown."""
    field = entity.by_name.get(name)
    if field is None:
        raise Mismatch(
            f"{entity.entity_set} has no field {name!r}",
            near(name, entity.by_name) + f"use a field of {entity.entity_set} (docs/templates.md)",
        )
    return field


def source_field(model: SystemModel, entity: Entity, path: str) -> Field:
    """The field a source field or lookup path (``parentcustomerid.accountnumber``, one
    level, through the lookup's targets) reads; Mismatch when it leads nowhere."""
    name, dot, column = path.partition(".")
    field = entity.by_name.get(name)
    if field is None:
        raise Mismatch(
            f"{entity.entity_set} has no field {name!r}",
            near(name, entity.by_name) + f"use a field of {model.label} {entity.entity_set}",
        )
    if not dot:
        return field
    if field.type is not T.LOOKUP:
        raise Mismatch(
            f"{name} is not a lookup of {entity.entity_set}, so {path!r} leads nowhere",
            "a lookup path starts with a lookup column, e.g. parentcustomerid.accountnumber",
        )
    if "." in column:
        raise Mismatch(
            f"{path!r} goes more than one lookup deep; Dataverse expands one level",
            "read one level (lookup.column)",
        )
    targets = [t for t in map(model.find, field.targets) if t is not None]
    for target in targets:
        if column in target.by_name:
            return target.by_name[column]
    columns = {c for t in targets for c in t.by_name}
    raise Mismatch(
        f"no target of the lookup {name} ({', '.join(field.targets)}) has a field {column!r}",
        near(column, columns) + f"use a field of {' or '.join(field.targets)}",
    )


def closed_values(entity: Entity, path: str, field: Field) -> set[str] | None:
    """Every value the source field can hold, as value-map keys; None when the set is open.

    Yes/no columns and the state column (the entity's ``activity``) are fixed by the
    platform; option sets (Sales choices, F&O enums) can be extended in an environment, so
    they are open whatever options the model knows.
    """
    if field.type is T.BOOL:
        return {"true", "false"}
    if field.type is T.NOYES:
        return {"Yes", "No"}
    activity = entity.activity
    if "." not in path and activity is not None and activity.field == path and field.options:
        return {map_key(option) for option in field.options}
    return None


def coerce_constant(field: Field, value: Any) -> Any:
    """A constant of p2c.yaml in the form ``field`` takes, converted where F&O would (a
    number for a text field is its text; yes/true/no/false for a NoYes field is Yes/No).

    Raises:
        Mismatch: the value cannot be written to the field.
    """
    if value is None or value == "":
        return value
    converted = _convert(field, value)
    try:
        field.coerce(converted)
    except ValueError as exc:
        raise Mismatch(
            f"{literal(value)} does not fit {field.name}, which takes {describe(field)}: {exc}",
            _fix(field),
        ) from None
    return converted


def _convert(field: Field, value: Any) -> Any:
    kind = field.type
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if kind is T.STRING:
        return _as_text(field, value)
    if isinstance(value, str) and kind in (T.NOYES, T.BOOL) and value.lower() in (*_YES, *_NO):
        yes = value.lower() in _YES
        return ("Yes" if yes else "No") if kind is T.NOYES else yes
    if kind is T.NOYES and isinstance(value, bool):
        return "Yes" if value else "No"
    if kind is T.ENUM and isinstance(value, str):
        same = [o for o in field.options if str(o).lower() == value.lower()]
        if not same:
            raise Mismatch(
                f"{value!r} is not a value of {field.name}, which takes {describe(field)}",
                near(value, map(str, field.options)) + _fix(field),
            )
        return same[0]
    if kind in (T.INT, T.PICKLIST):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    if kind is T.MONEY and isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    return value


def _as_text(field: Field, value: Any) -> Any:
    """A number for a text field is its text, as F&O takes it; a YAML yes/no is refused."""
    if isinstance(value, bool):
        raise Mismatch(
            f"{field.name} takes {describe(field)}, and YAML reads this value as "
            f"{literal(value)} (yes, no, on, off, true and false are yes/no values)",
            'quote the text you mean, e.g. "Yes"',
        )
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _fix(field: Field) -> str:
    if field.type is T.STRING and field.max_length:
        return f"give {field.name} text of at most {field.max_length} characters"
    return f"give {field.name} {describe(field)}"
