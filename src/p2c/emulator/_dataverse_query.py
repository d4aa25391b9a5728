"""Reading plans of the Dataverse face: ``$select``, ``$expand``, ``$filter`` and ``$orderby``
checked against the entity's visible columns and turned into sandbox query columns, and the
function that shapes a row into a Web API record."""

from __future__ import annotations

__all__ = ["no_property", "order", "plan", "where"]

from collections.abc import Callable
from typing import Any

from p2c.dynamics import SALES, Entity, Field, FieldType
from p2c.emulator._annotations import (
    FORMATTED,
    LOGICAL,
    NAVIGATION,
    VERSION,
    Annotations,
    etag,
    formatted,
)
from p2c.emulator._entity_definitions import primary_name
from p2c.emulator._http import ApiError, Call
from p2c.emulator._options import (
    map_filter,
    parse_expand,
    parse_filter_text,
    parse_orderby,
    parse_select,
)
from p2c.emulator._query_functions import rewrite_functions
from p2c.odata import Filter
from p2c.sandbox import navigation_properties

_FORMATTED_TYPES = (
    FieldType.PICKLIST,
    FieldType.BOOL,
    FieldType.MONEY,
    FieldType.INT,
    FieldType.DATETIME,
)
Record = dict[str, Any]
Shape = Callable[[Record], Record]


def no_property(entity: Entity, name: str) -> ApiError:
    """Dataverse's answer to a name that is not a property of the entity."""
    return ApiError(
        400,
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity.name}'.",
        "0x80060888",
    )


def plan(
    call: Call, entity: Entity, visible_of: Callable[[Entity], set[str]]
) -> tuple[list[str], Shape, str]:
    """Columns to read, how to shape a row into a record, and the context's select list."""
    visible = visible_of(entity)
    notes = Annotations.of(call.headers)
    selected = parse_select(call.query.get("$select"))
    if selected is None:
        selected = [
            f"_{f.name}_value" if f.type is FieldType.LOOKUP else f.name
            for f in entity.fields
            if f.name in visible
        ]
    key = entity.key[0]
    # The ETag is the row version: one column, not the whole row.
    columns = [key, VERSION]
    steps: list[Callable[[Record, Record], None]] = [_etag_step]
    symbol = _symbol_path(entity, visible)
    for name in selected:
        f = _property(entity, visible, name)
        if f.type is FieldType.LOOKUP:
            names = _name_paths(f, visible_of) if notes.wants(FORMATTED) else {}
            columns += [f.name, f"{f.name}type"] if f.polymorphic else [f.name]
            columns += names.values()
            steps.append(_lookup_step(f, name, notes, names))
        else:
            columns.append(f.name)
            steps.append(_column_step(f.name))
            if notes.wants(FORMATTED) and f.type in _FORMATTED_TYPES:
                if symbol and f.type is FieldType.MONEY:
                    columns.append(symbol)
                steps.append(_formatted_step(f, symbol))
    for nav, options in parse_expand(call.query.get("$expand")):
        target_columns, step = _expansion(entity, visible, nav, options, visible_of)
        columns += target_columns
        steps.append(step)
    if key not in selected:
        steps.append(_column_step(key))

    def shape(row: Record) -> Record:
        record: Record = {}
        for step in steps:
            step(row, record)
        return record

    context = ",".join(selected)
    return list(dict.fromkeys(columns)), shape, context


def _symbol_path(entity: Entity, visible: set[str]) -> str | None:
    """The lookup path of a record's currency symbol, for formatted money."""
    f = entity.by_name.get("transactioncurrencyid")
    if f is None or f.name not in visible:
        return None
    return "transactioncurrencyid.currencysymbol"


def _name_paths(f: Field, visible_of: Callable[[Entity], set[str]]) -> dict[str, str]:
    """Target -> the path of its primary name column, for a lookup's formatted value."""
    paths: dict[str, str] = {}
    for target in f.targets:
        entity = SALES.find(target)
        if entity is None:
            continue
        name = primary_name(entity)
        if name is None or name not in visible_of(entity):
            continue
        nav = f"{f.name}_{target}" if f.polymorphic else f.name
        paths[target] = f"{nav}.{name}"
    return paths


def _expansion(
    entity: Entity,
    visible: set[str],
    nav: str,
    options: dict[str, str],
    visible_of: Callable[[Entity], set[str]],
) -> tuple[list[str], Callable[[Record, Record], None]]:
    navs = navigation_properties(entity)
    if nav not in navs or navs[nav][0].name not in visible:
        raise no_property(entity, nav)
    unknown = set(options) - {"$select"}
    if unknown:
        raise ApiError(
            400,
            f"The emulator supports only $select inside $expand, not {sorted(unknown)}.",
            "0x80060888",
        )
    target = SALES.entity(navs[nav][1])
    target_visible = visible_of(target)
    wanted = parse_select(options.get("$select")) or [
        f.name for f in target.fields if f.name in target_visible and f.type is not FieldType.LOOKUP
    ]
    for name in wanted:
        f = _property(target, target_visible, name)
        if f.type is FieldType.LOOKUP:
            raise ApiError(
                400,
                f"The emulator cannot expand the lookup '{name}' of an expanded record.",
                "0x80060888",
            )
    key = target.key[0]
    names = list(dict.fromkeys([*wanted, key]))
    paths = [f"{nav}.{n}" for n in names]
    key_path = f"{nav}.{key}"

    def step(row: Record, record: Record) -> None:
        if row[key_path] is None:
            record[nav] = None
        else:
            record[nav] = {n: row[p] for n, p in zip(names, paths, strict=True)}

    return paths, step


def where(call: Call, entity: Entity, visible_of: Callable[[Entity], set[str]]) -> Filter | None:
    text = call.query.get("$filter")
    if not text:
        return None
    visible = visible_of(entity)
    navs = navigation_properties(entity)

    def rename(name: str, value: Any) -> tuple[str, Any]:
        if "/" in name:
            nav, _, column = name.partition("/")
            if nav not in navs or navs[nav][0].name not in visible:
                raise no_property(entity, nav)
            target = SALES.entity(navs[nav][1])
            f = _property(target, visible_of(target), column)
            if f.type is FieldType.LOOKUP:
                raise ApiError(400, f"The emulator cannot filter on '{name}'.", "0x80060888")
            return f"{nav}.{f.name}", _filter_value(f, value)
        f = _property(entity, visible, name)
        return f.name, _filter_value(f, value)

    return map_filter(parse_filter_text(rewrite_functions(text)), rename)


def order(
    call: Call, entity: Entity, visible_of: Callable[[Entity], set[str]]
) -> list[tuple[str, bool]]:
    visible = visible_of(entity)
    return [
        (_property(entity, visible, name).name, desc)
        for name, desc in parse_orderby(call.query.get("$orderby"))
    ]


def _property(entity: Entity, visible: set[str], name: str) -> Field:
    """The field behind a Web API property name (``_<lookup>_value`` for a lookup)."""
    if name.startswith("_") and name.endswith("_value"):
        f = entity.by_name.get(name[1:-6])
        if f is not None and f.type is FieldType.LOOKUP and f.name in visible:
            return f
    f = entity.by_name.get(name)
    if f is None or name not in visible or f.type is FieldType.LOOKUP:
        raise no_property(entity, name)
    return f


def _column_step(name: str) -> Callable[[Record, Record], None]:
    def step(row: Record, record: Record) -> None:
        record[name] = row[name]

    return step


def _etag_step(row: Record, record: Record) -> None:
    record["@odata.etag"] = etag(row)


def _formatted_step(f: Field, symbol: str | None) -> Callable[[Record, Record], None]:
    name = f.name
    annotation = f"{name}@{FORMATTED}"

    def step(row: Record, record: Record) -> None:
        text = formatted(f, row[name], row.get(symbol) if symbol else None)
        if text is not None:
            record[annotation] = text

    return step


def _lookup_step(
    f: Field, prop: str, notes: Annotations, names: dict[str, str]
) -> Callable[[Record, Record], None]:
    name, single = f.name, f.targets[0]
    kind = f.name + "type"
    logical = notes.wants(LOGICAL)
    navigation = notes.wants(NAVIGATION)

    def step(row: Record, record: Record) -> None:
        value = row[name]
        record[prop] = value
        if value is None:
            return
        target = row[kind] if f.polymorphic else single
        if names and target in names:
            record[f"{prop}@{FORMATTED}"] = row[names[target]]
        if navigation:
            nav = f"{name}_{target}" if f.polymorphic else name
            record[f"{prop}@{NAVIGATION}"] = nav
        if logical:
            record[f"{prop}@{LOGICAL}"] = target

    return step


def _filter_value(f: Field, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if f.type in (FieldType.DATETIME, FieldType.GUID, FieldType.LOOKUP):
        try:
            return f.coerce(value)
        except ValueError as exc:
            raise ApiError(
                400, f"Invalid value for {f.name} in $filter: {exc}.", "0x80060888"
            ) from None
    return value
