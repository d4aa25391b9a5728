"""Reading a sandbox entity as the APIs do: ``$select``, ``$filter``, lookups, pages.

Lookup paths such as ``parentcustomerid.accountnumber`` become LEFT JOINs (one per target
of a polymorphic lookup), so a page of records and their lookups is one query, never one
query per record. A path may name a navigation property of one target instead
(``parentcustomerid_account.accountnumber``), as the Web API's ``$expand`` does. Filters
arrive as parsed trees and become parameterized SQL.
"""

from __future__ import annotations

__all__ = ["count", "select", "select_rows"]

import difflib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from p2c._errors import ConfigError
from p2c.dynamics import Entity, FieldType
from p2c.odata import Filter, to_sql
from p2c.sandbox._bodies import navigation_properties
from p2c.sandbox._keyset import split_keyset
from p2c.sandbox._store import Store, pages

Record = dict[str, Any]


def _unknown(entity: Entity, name: str, visible: set[str]) -> ConfigError:
    close = difflib.get_close_matches(name, sorted(visible), 1)
    return ConfigError(
        f"{entity.name} has no column {name!r}.",
        field=name,
        fix=f"did you mean {close[0]!r}?" if close else "check the mapping and the filter",
    )


class _Query:
    """The SQL of a read: selected expressions, joins and the filter."""

    def __init__(
        self,
        entity: Entity,
        visible: set[str],
        resolve: Callable[[str], Entity],
        fold_case: bool = False,
    ) -> None:
        self.entity = entity
        self.visible = visible
        self.resolve = resolve
        self.fold_case = fold_case
        self.joins: list[str] = []
        self.bools: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.navs = navigation_properties(entity)

    def column_sql(self, name: str) -> str:
        if name in self.aliases:
            return self.aliases[name]
        if "." in name:
            self.aliases[name] = self.lookup_sql(name)
            return self.aliases[name]
        entity, visible = self.entity, self.visible
        if name not in visible:
            # The type column of a visible polymorphic lookup (``parentcustomeridtype``).
            lookup = entity.by_name.get(name[:-4]) if name.endswith("type") else None
            if lookup is None or not lookup.polymorphic or lookup.name not in visible:
                raise _unknown(entity, name, visible)
        elif entity.by_name[name].type is FieldType.BOOL:
            self.bools.add(name)
        self.aliases[name] = f'base."{name}"'
        return self.aliases[name]

    def filter_sql(self, name: str) -> str:
        """A column in a filter: text compares case-insensitively when the system does."""
        sql = self.column_sql(name)
        return f"{sql} COLLATE NOCASE" if self.fold_case and self._is_text(name) else sql

    def _is_text(self, name: str) -> bool:
        head, _, column = name.partition(".")
        if not column:
            f = self.entity.by_name.get(name)
            return f is not None and f.type is FieldType.STRING
        lookup = self.entity.by_name.get(head) or self.navs.get(head, (None, ""))[0]
        targets = lookup.targets if lookup is not None else ()
        fields = [self.resolve(t).by_name.get(column) for t in targets]
        return any(f is not None and f.type is FieldType.STRING for f in fields)

    def lookup_sql(self, path: str) -> str:
        entity = self.entity
        lookup_name, _, target_column = path.partition(".")
        lookup = entity.by_name.get(lookup_name)
        targets: tuple[str, ...] = lookup.targets if lookup is not None else ()
        if lookup is None and lookup_name in self.navs:
            # A navigation property of one target of a polymorphic lookup.
            lookup, target = self.navs[lookup_name]
            targets = (target,)
        if lookup is None or lookup.type is not FieldType.LOOKUP or lookup.name not in self.visible:
            raise ConfigError(
                f"{path!r}: {lookup_name!r} is not a lookup of {entity.name}.",
                field=path,
                fix="use a lookup column, e.g. parentcustomerid.accountnumber",
            )
        parts = []
        for target_name in targets:
            joined = self.resolve(target_name)
            if target_column not in joined.by_name:
                continue
            if joined.by_name[target_column].type is FieldType.BOOL:
                self.bools.add(path)
            alias = f"j{len(self.joins)}"
            condition = f'{alias}."{joined.key[0]}" = base."{lookup.name}"'
            if lookup.polymorphic:
                condition += f" AND base.\"{lookup.name}type\" = '{target_name}'"
            self.joins.append(f'LEFT JOIN "{joined.name}" AS {alias} ON {condition}')
            parts.append(f'{alias}."{target_column}"')
        if not parts:
            raise ConfigError(
                f"{path!r}: no target of {lookup.name} has a column {target_column!r}.",
                field=path,
            )
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"

    def where(
        self,
        tree: Filter | None,
        after: Sequence[Any] | None,
        order: Sequence[tuple[str, bool]] = (),
    ) -> tuple[str, list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []

        def convert(field: str, value: Any) -> Any:
            return int(value) if isinstance(value, bool) else value

        # An incremental cursor's "after (watermark, key)" as a row value: the read starts
        # at the position in the index (see _keyset).
        rest, keyset = split_keyset(tree) if tree is not None else (None, None)
        if rest is not None:
            condition, params = to_sql(rest, self.filter_sql, convert)
            conditions.append(condition)
        if keyset is not None:
            columns = [self.filter_sql(name) for name in keyset.columns]
            conditions.append(f"(({', '.join(columns)}) > ({', '.join('?' * len(columns))}))")
            params += [convert(c, v) for c, v in zip(keyset.columns, keyset.values, strict=True)]
        if after is not None:
            # Keyset continuation: rows that sort after ``after`` in the read's order (the
            # ascending ``$orderby`` columns, then the key); row values compare column by
            # column, on the index that serves the order.
            columns = [self.column_sql(name) for name, _ in order]
            columns += [f'base."{k}"' for k in self.entity.key]
            conditions.append(f"(({', '.join(columns)}) > ({', '.join('?' * len(columns))}))")
            params = [*params, *after]
        return (f"WHERE {' AND '.join(conditions)}" if conditions else ""), params


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
    order: Sequence[tuple[str, bool]] = (),
    after: Sequence[Any] | None = None,
    limit: int | None = None,
    offset: int = 0,
    fold_case: bool = False,
) -> Iterator[list[Record]]:
    """Pages of records with the given columns and lookup paths, filtered, in key order.

    Args:
        store: The system's database.
        entity: The entity read.
        columns: Columns, lookup paths (``parentcustomerid.accountnumber``) or navigation
            paths of one lookup target (``parentcustomerid_account.accountnumber``).
        lookups: More lookup paths.
        where: A parsed ``$filter``.
        visible: The entity's columns that exist.
        resolve: Entity by logical name, for lookup targets.
        page_size: Records per page.
        order: ``$orderby``: (column, descending) pairs, before the key.
        after: Only records after these values of the ascending ``order`` columns and the
            key (keyset paging).
        limit: At most this many records.
        offset: Skip this many records first.
        fold_case: Text compares case-insensitively in the filter, as in Dataverse.
    """
    sql, params, names, bools = _statement(
        entity,
        columns=columns,
        lookups=lookups,
        where=where,
        visible=visible,
        resolve=resolve,
        order=order,
        after=after,
        limit=limit,
        offset=offset,
        fold_case=fold_case,
    )
    for rows in pages(store.db.execute(sql, params), page_size):
        page = [dict(zip(names, row, strict=True)) for row in _as_bools(rows, bools)]
        yield page


def select_rows(
    store: Store,
    entity: Entity,
    *,
    columns: Sequence[str],
    lookups: Sequence[str] = (),
    where: Filter | None = None,
    visible: set[str],
    resolve: Callable[[str], Entity],
    page_size: int = 5000,
    order: Sequence[tuple[str, bool]] = (),
) -> Iterator[list[tuple[Any, ...]]]:
    """``select``'s pages as rows: each record's values in the order of the columns, then
    the lookup paths (each once)."""
    sql, params, _, bools = _statement(
        entity,
        columns=columns,
        lookups=lookups,
        where=where,
        visible=visible,
        resolve=resolve,
        order=order,
        after=None,
        limit=None,
        offset=0,
        fold_case=False,
    )
    for rows in pages(store.db.execute(sql, params), page_size):
        yield _as_bools(rows, bools)


def _as_bools(rows: list[tuple[Any, ...]], bools: list[int]) -> list[tuple[Any, ...]]:
    """The rows with their yes/no values (at ``bools``) as booleans: one such column row by
    row, more a column at a time."""
    if not bools or not rows:
        return rows
    if len(bools) == 1:
        i = bools[0]
        return [row if row[i] is None else (*row[:i], bool(row[i]), *row[i + 1 :]) for row in rows]
    columns = list(zip(*rows, strict=True))
    for i in bools:
        columns[i] = tuple(None if v is None else bool(v) for v in columns[i])
    return list(zip(*columns, strict=True))


def _statement(
    entity: Entity,
    *,
    columns: Sequence[str],
    lookups: Sequence[str],
    where: Filter | None,
    visible: set[str],
    resolve: Callable[[str], Entity],
    order: Sequence[tuple[str, bool]],
    after: Sequence[Any] | None,
    limit: int | None,
    offset: int,
    fold_case: bool,
) -> tuple[str, list[Any], list[str], list[int]]:
    """A read's SQL and parameters, the names of its values in order, and the positions
    of the yes/no values (SQLite gives them as 0 and 1)."""
    query = _Query(entity, visible, resolve, fold_case)
    names = list(dict.fromkeys([*columns, *lookups]))
    expressions = [query.column_sql(name) for name in names]
    where_sql, params = query.where(where, after, order)
    # A whole read (no LIMIT) sorts what it reads rather than follow the order's index: the
    # index visits every row of the table in key order (random pages: the keys are GUIDs),
    # filtered or not; a range in the filter (an incremental cursor) still uses the index.
    # ``+`` keeps SQLite from ordering by the index. A page (LIMIT) streams off the index.
    whole = "+" if limit is None and not offset else ""
    ordering = [f"{whole}{query.column_sql(name)}{' DESC' if desc else ''}" for name, desc in order]
    # The key last, unless the order already has it: a repeated term keeps SQLite from
    # reading in the order of an index on (order, key) and makes it sort.
    ordering += [f'base."{k}"' for k in entity.key if k not in {name for name, _ in order}]
    sql = (
        f'SELECT {", ".join(expressions)} FROM "{entity.name}" AS base {" ".join(query.joins)} '
        f"{where_sql} ORDER BY {', '.join(ordering)}"
    )
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, -1 if limit is None else limit, offset]
    bools = [i for i, n in enumerate(names) if n in query.bools]
    return sql, params, names, bools


def count(
    store: Store,
    entity: Entity,
    *,
    where: Filter | None = None,
    visible: set[str],
    resolve: Callable[[str], Entity],
    fold_case: bool = False,
) -> int:
    """How many records pass the filter (text compared case-insensitively with
    ``fold_case``)."""
    query = _Query(entity, visible, resolve, fold_case)
    where_sql, params = query.where(where, None)
    sql = f'SELECT COUNT(*) FROM "{entity.name}" AS base {" ".join(query.joins)} {where_sql}'
    return int(store.scalar(sql, params))
