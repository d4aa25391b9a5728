"""Reading a sandbox entity as the APIs do: ``$select``, ``$filter``, lookups, pages.

Lookup paths such as ``parentcustomerid.accountnumber`` become LEFT JOINs (one per target
of a polymorphic lookup), so a page of records and their lookups is one query, never one
query per record. Filters arrive as parsed trees and become parameterized SQL.
"""

from __future__ import annotations

__all__ = ["select"]

import difflib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from p2c._errors import ConfigError
from p2c.odata import Filter, to_sql
from p2c.sandbox._schema import Entity, FieldType
from p2c.sandbox._store import Store

Record = dict[str, Any]


def _unknown(entity: Entity, name: str, visible: set[str]) -> ConfigError:
    close = difflib.get_close_matches(name, sorted(visible), 1)
    return ConfigError(
        f"{entity.name} has no column {name!r}.",
        field=name,
        fix=f"did you mean {close[0]!r}?" if close else "check the mapping and the filter",
    )


def select(
    store: Store,
    entity: Entity,
    *,
    columns: Sequence[str],
    lookups: Sequence[str] = (),
    where: Filter | None = None,
    visible: set[str],
    resolve: Callable[[str], Entity],
    page_size: int = 5000,
) -> Iterator[list[Record]]:
    """Pages of records with the given columns and lookup paths, filtered, in key order."""
    expressions: list[str] = []
    joins: list[str] = []
    bools: set[str] = set()
    aliases: dict[str, str] = {}

    def column_sql(name: str) -> str:
        if name in aliases:
            return aliases[name]
        if "." in name:
            aliases[name] = lookup_sql(name)
            return aliases[name]
        if name not in visible:
            raise _unknown(entity, name, visible)
        if entity.by_name[name].type is FieldType.BOOL:
            bools.add(name)
        aliases[name] = f'base."{name}"'
        return aliases[name]

    def lookup_sql(path: str) -> str:
        lookup_name, _, target_column = path.partition(".")
        lookup = entity.by_name.get(lookup_name)
        if lookup is None or lookup.type is not FieldType.LOOKUP or lookup_name not in visible:
            raise ConfigError(
                f"{path!r}: {lookup_name!r} is not a lookup of {entity.name}.",
                field=path,
                fix="use a lookup column, e.g. parentcustomerid.accountnumber",
            )
        parts = []
        for target_name in lookup.targets:
            target = resolve(target_name)
            if target_column not in target.by_name:
                continue
            if target.by_name[target_column].type is FieldType.BOOL:
                bools.add(path)
            alias = f"j{len(joins)}"
            condition = f'{alias}."{target.key[0]}" = base."{lookup_name}"'
            if lookup.polymorphic:
                condition += f" AND base.\"{lookup_name}type\" = '{target_name}'"
            joins.append(f'LEFT JOIN "{target.name}" AS {alias} ON {condition}')
            parts.append(f'{alias}."{target_column}"')
        if not parts:
            raise ConfigError(
                f"{path!r}: no target of {lookup_name} has a column {target_column!r}.",
                field=path,
            )
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"

    names = list(dict.fromkeys([*columns, *lookups]))
    for name in names:
        expressions.append(column_sql(name))

    def convert(field: str, value: Any) -> Any:
        return int(value) if isinstance(value, bool) else value

    where_sql = ""
    params: list[Any] = []
    if where is not None:
        condition, params = to_sql(where, column_sql, convert)
        where_sql = f"WHERE {condition}"
    order = ", ".join(f'base."{k}"' for k in entity.key)
    sql = (
        f'SELECT {", ".join(expressions)} FROM "{entity.name}" AS base {" ".join(joins)} '
        f"{where_sql} ORDER BY {order}"
    )
    cursor = store.db.execute(sql, params)
    bool_positions = [i for i, n in enumerate(names) if n in bools]
    while rows := cursor.fetchmany(page_size):
        page = [dict(zip(names, row, strict=True)) for row in rows]
        if bool_positions:
            flagged = [names[i] for i in bool_positions]
            for record in page:
                for name in flagged:
                    value = record[name]
                    if value is not None:
                        record[name] = bool(value)
        yield page
