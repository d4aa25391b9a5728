"""Entity metadata of Dynamics 365: fields, types, lengths, keys, lookups.

One small model serves Sales (Dataverse), the CDS hub and Finance and Operations: the
sandbox makes its tables from it, the emulator its metadata, the connectors their requests,
and the engine asks it what differs per entity (the organization field, what inactive
means). Each field
knows how to check and convert a JSON value into its stored form (``coerce``) and back
(``present``), so every write path applies the same rules, fast: the converters are built
once per field, not per value.
"""

from __future__ import annotations

__all__ = ["Activity", "Entity", "Field", "FieldType", "Shape", "utc_now", "utc_text"]

import enum
import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class FieldType(enum.StrEnum):
    STRING = "string"
    INT = "int"
    MONEY = "money"
    BOOL = "bool"
    GUID = "guid"
    DATETIME = "datetime"
    PICKLIST = "picklist"  # Dataverse option set: integer values
    LOOKUP = "lookup"  # Dataverse lookup: a GUID, one or more target entities
    ENUM = "enum"  # F&O enum: symbol names such as "Person"
    NOYES = "noyes"  # F&O NoYes enum: "Yes" / "No"


_SQL_TYPES = {
    FieldType.INT: "INTEGER",
    FieldType.BOOL: "INTEGER",
    FieldType.PICKLIST: "INTEGER",
    FieldType.MONEY: "REAL",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """Stored form of a timestamp: UTC ISO 8601 to the second with a ``Z``, as Dataverse
    returns it; sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_text(moment)


Coerce = Callable[[Any], Any]
# Whole numbers are 32-bit in Dataverse and F&O (Int32); SQLite would overflow past 64 bits.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class Field:
    """One column of an entity.

    Args:
        name: Logical name (Dataverse) or data entity field name (F&O).
        type: Storage and validation type.
        max_length: Longest accepted string.
        required: A create without a value is rejected.
        label: Display name used in messages.
        targets: Lookup targets, entity logical names (two for a polymorphic lookup).
        options: Accepted values of a picklist or enum.
        solution: The solution that adds the column; absent until that solution is installed.
        read_only: Set by the system; a create or update that sets it is rejected.
        default: Value stored when a create omits the field.
        fold_case: Stored in lower case: the system compares it case-insensitively (F&O's
            company id).
        option_labels: Display labels of ``options``, in the same order (a yes/no column:
            the labels of false and true); the API's formatted values and option set
            metadata show them.
    """

    name: str
    type: FieldType = FieldType.STRING
    max_length: int | None = None
    required: bool = False
    label: str = ""
    targets: tuple[str, ...] = ()
    options: tuple[Any, ...] = ()
    solution: str | None = None
    read_only: bool = False
    default: Any = None
    fold_case: bool = False
    option_labels: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES.get(self.type, "TEXT")

    @property
    def polymorphic(self) -> bool:
        return len(self.targets) > 1

    def coerce(self, value: Any) -> Any:
        """Check a JSON value and return its stored form; raise ValueError with the reason."""
        return _coercer(self)(value)

    def option_label(self, value: Any) -> str | None:
        """The display label of an option value (a yes/no column's false or true), or None."""
        if self.type is FieldType.BOOL:
            labels = self.option_labels or ("No", "Yes")
            return None if value is None else labels[1 if value else 0]
        for option, label in zip(self.options, self.option_labels, strict=False):
            if option == value:
                return label
        return None

    def present(self, value: Any) -> Any:
        """The JSON form of a stored value."""
        if self.type is FieldType.BOOL and value is not None:
            return bool(value)
        return value


def _string(f: Field) -> Coerce:
    limit, fold = f.max_length, f.fold_case

    def string(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"expects text, got {type(value).__name__} {value!r}")
        if limit is not None and len(value) > limit:
            raise ValueError(
                f"value is {len(value)} characters long; the maximum length is {limit}"
            )
        return value.lower() if fold else value

    return string


def _integer(f: Field) -> Coerce:
    options = set(f.options)

    def integer(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expects a whole number, got {value!r}")
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{value} is outside the range {_INT_MIN} to {_INT_MAX}")
        if options and value not in options:
            raise ValueError(f"{value} is not a valid option; valid: {sorted(options)}")
        return value

    return integer


def _money(f: Field) -> Coerce:
    def money(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expects a number, got {value!r}")
        return float(value)

    return money


def _boolean(f: Field) -> Coerce:
    def boolean(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ValueError(f"expects true or false, got {value!r}")
        return int(value)

    return boolean


def _guid(f: Field) -> Coerce:
    def guid(value: Any) -> Any:
        if value is None:
            return None
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise ValueError(f"{value!r} is not a GUID") from None

    return guid


def _moment(f: Field) -> Coerce:
    def moment(value: Any) -> Any:
        if value is None:
            return None
        try:
            return _parse_datetime(str(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 date and time such as 2026-01-31T09:00:00Z"
            ) from None

    return moment


def _symbol(f: Field) -> Coerce:
    symbols = tuple(f.options) if f.type is FieldType.ENUM else ("Yes", "No")

    def enum_value(value: Any) -> Any:
        if value is None:
            return None
        if value not in symbols:
            raise ValueError(f"{value!r} is not a valid value; valid: {', '.join(symbols)}")
        return value

    return enum_value


# One converter builder per type: each checks a JSON value and returns its stored form.
_COERCERS: dict[FieldType, Callable[[Field], Coerce]] = {
    FieldType.STRING: _string,
    FieldType.INT: _integer,
    FieldType.PICKLIST: _integer,
    FieldType.MONEY: _money,
    FieldType.BOOL: _boolean,
    FieldType.GUID: _guid,
    FieldType.LOOKUP: _guid,
    FieldType.DATETIME: _moment,
    FieldType.ENUM: _symbol,
    FieldType.NOYES: _symbol,
}


def _coercer(f: Field) -> Coerce:
    return _COERCERS[f.type](f)


@dataclass(frozen=True, slots=True)
class Shape:
    """Records of one set of fields, as a system takes them in.

    Args:
        intake: Checks and converts a record in one call and returns its key and stored
            row; raises ValueError on any bad value or empty key field without saying
            which (the caller then checks field by field for the message).
        absent_defaults: Defaults of the fields the shape does not have: a new record
            gets them all.
        present_defaults: Defaults of fields the shape has: they apply where the value is
            empty.
    """

    intake: Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]
    absent_defaults: dict[str, Any]
    present_defaults: tuple[tuple[str, Any], ...]

    def fill_defaults(self, row: dict[str, Any]) -> None:
        """Give a new record its defaults."""
        row.update(self.absent_defaults)
        for name, value in self.present_defaults:
            if row[name] is None:
                row[name] = value


@dataclass(frozen=True, slots=True)
class Activity:
    """What active and inactive mean for an entity's records: the field that says so and
    its two values (Sales ``statecode`` 0/1, F&O ``IsInactive`` No/Yes)."""

    field: str
    active: Any
    inactive: Any


@dataclass(frozen=True)
class Entity:
    """An entity (table) with its entity set name, keys and fields.

    Args:
        name: Logical name (Dataverse) or public entity name (F&O, CDS).
        entity_set: Collection name in the API (``contacts``, ``CustomersV2``).
        fields: The columns.
        key: Primary key fields (the GUID id in Dataverse; the entity key in F&O).
        alternate_keys: Named alternate keys: key name -> its fields.
        label: Display name used in messages.
        modified_field: A system column the store sets on every write (the hub's
            ModifiedOn).
        organization: The field that carries the record's legal entity or organization
            (F&O ``dataAreaId``, the hub's ``Organization_OrganizationId``; for Sales the
            lookup path of the owning business unit's name).
        activity: What active and inactive mean, for the deactivation policy.
        names: How a person names a record in messages: groups of fields, the first group
            with a value wins, its values joined by spaces (an organization's name, else a
            person's first and last name).
    """

    name: str
    entity_set: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    alternate_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    label: str = ""
    modified_field: str | None = None
    organization: str | None = None
    activity: Activity | None = None
    names: tuple[tuple[str, ...], ...] = ()
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    coercers: dict[str, Coerce] = field(init=False, repr=False, compare=False)
    _shapes: dict[tuple[str, ...], Shape] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "coercers", {f.name: _coercer(f) for f in self.fields})
        object.__setattr__(self, "_shapes", {})

    def record_name(self, values: Mapping[str, Any]) -> str | None:
        """The name a person knows a record by (``Fabrikam``, ``Ann Lee``), from its values;
        None when they carry none."""
        for group in self.names:
            named = " ".join(str(values[f]) for f in group if values.get(f))
            if named:
                return named
        return None

    def shape(self, names: tuple[str, ...]) -> Shape | None:
        """How records with exactly these fields are taken in, or None when a name is not a
        field. Compiled once per shape: a sync sends the same fields in every record."""
        found = self._shapes.get(names)
        if found is None:
            if not all(n in self.by_name for n in names):
                return None
            found = Shape(
                _compile_intake(self, names),
                {name: value for name, value in self.defaults if name not in names},
                tuple((name, value) for name, value in self.defaults if name in names),
            )
            self._shapes[names] = found
        return found

    @functools.cached_property
    def defaults(self) -> list[tuple[str, Any]]:
        """(field, value) of the fields that have a default."""
        return [(f.name, f.default) for f in self.fields if f.default is not None]

    @property
    def columns(self) -> list[str]:
        """Stored columns: every field, plus the type column of each polymorphic lookup."""
        names: list[str] = []
        for f in self.fields:
            names.append(f.name)
            if f.polymorphic:
                names.append(f.name + "type")
        return names

    def visible(self, installed: Iterable[str]) -> list[Field]:
        """Fields present given the installed solutions."""
        have = set(installed)
        return [f for f in self.fields if f.solution is None or f.solution in have]

    def ddl(self) -> list[str]:
        """CREATE statements for the table, its primary key and unique alternate keys."""
        cols = []
        for f in self.fields:
            cols.append(f'"{f.name}" {f.sql_type}')
            if f.polymorphic:
                cols.append(f'"{f.name}type" TEXT')
        key = ", ".join(f'"{k}"' for k in self.key)
        statements = [
            f'CREATE TABLE IF NOT EXISTS "{self.name}" ({", ".join(cols)}, PRIMARY KEY ({key}))'
        ]
        watermark = self.modified_field or ("modifiedon" if "modifiedon" in self.by_name else None)
        if watermark:
            # Incremental reads: WHERE modifiedon >= ? ORDER BY modifiedon, key.
            ordered = ", ".join(f'"{c}"' for c in (watermark, *self.key))
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "ix_{self.name}_changed" ON "{self.name}" ({ordered})'
            )
        for key_name, fields in self.alternate_keys.items():
            cols_sql = ", ".join(f'"{c}"' for c in fields)
            where = " AND ".join(f'"{c}" IS NOT NULL' for c in fields)
            statements.append(
                f'CREATE UNIQUE INDEX IF NOT EXISTS "ak_{self.name}_{key_name}" '
                f'ON "{self.name}" ({cols_sql}) WHERE {where}'
            )
        return statements


def _compile_intake(
    entity: Entity, names: tuple[str, ...]
) -> Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]:
    """Generate one function for a record shape: strings, the common case, are checked
    inline; other types call their field's coercer; key fields must not be empty. Names
    reach the code only as literals."""
    lines = ["def intake(r):"]
    values = []
    scope: dict[str, Any] = {"_str": str}
    for i, name in enumerate(names):
        f = entity.by_name[name]
        lines.append(f"    v{i} = r[{name!r}]")
        if f.type is FieldType.STRING:
            check = f"v{i}.__class__ is not _str"
            if f.max_length is not None:
                check += f" or len(v{i}) > {int(f.max_length)}"
            lines.append(f"    if v{i} is not None and ({check}):")
            lines.append("        raise ValueError")
            if f.fold_case:
                lines.append(f"    if v{i} is not None:")
                lines.append(f"        v{i} = v{i}.lower()")
        else:
            scope[f"c{i}"] = entity.coercers[name]
            lines.append(f"    v{i} = c{i}(v{i})")
        values.append(f"{name!r}: v{i}")
    key = []
    for name in entity.key:
        if name not in names:
            lines.append("    raise ValueError")
            break
        i = names.index(name)
        lines.append(f"    if v{i} is None or v{i} == '':")
        lines.append("        raise ValueError")
        key.append(f"v{i}")
    # A key field the shape lacks raised above; the line stays valid Python either way.
    lines.append(f"    return ({''.join(k + ', ' for k in key)}), {{{', '.join(values)}}}")
    exec("\n".join(lines), scope)
    return scope["intake"]  # type: ignore[no-any-return]
