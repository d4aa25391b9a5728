"""Upsert by entity key with per-record outcomes: the write model of F&O and the CDS hub.

A batch of records is checked field by field, merged over the stored record with the same
key, validated by the system's rules and written in one statement. Each record gets its own
outcome, so one bad record never stops the others.
"""

from __future__ import annotations

__all__ = ["KeyedSystem", "Rejection"]

import difflib
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2c._errors import NotFoundError
from p2c.dynamics import Entity, Outcome, Shape, WriteStatus, utc_now
from p2c.odata import Filter
from p2c.sandbox._query import select
from p2c.sandbox._store import Store, chunks


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a system refused a record: the field and the system's message."""

    field: str | None
    message: str


class KeyedSystem:
    """A system whose entities are written by upsert on their key.

    Subclasses list their ``entities`` and add their rules in ``validate`` and
    ``after_write``.
    """

    entities: tuple[Entity, ...] = ()
    name = "system"

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.store = Store(path, self.entities, create=create)
        self._by_set = {e.entity_set.lower(): e for e in self.entities}

    def close(self) -> None:
        self.store.close()

    def entity(self, entity_set: str) -> Entity:
        found = self._by_set.get(entity_set.lower())
        if found is None:
            close = difflib.get_close_matches(entity_set, [e.entity_set for e in self.entities], 1)
            raise NotFoundError(
                f"{self.name} has no entity {entity_set!r}.",
                fix=f"did you mean {close[0]!r}?"
                if close
                else f"use one of: {', '.join(e.entity_set for e in self.entities)}",
            )
        return found

    def export(self, entity_set: str) -> Iterator[dict[str, Any]]:
        entity = self.entity(entity_set)
        return (
            {f.name: f.present(row.get(f.name)) for f in entity.fields}
            for row in self.store.rows(entity)
        )

    def count(self, entity_set: str) -> int:
        return self.store.count(self.entity(entity_set))

    def query(
        self,
        entity_set: str,
        columns: Sequence[str],
        lookups: Sequence[str] = (),
        where: Filter | None = None,
        page_size: int = 5000,
        *,
        order_by: Sequence[str] = (),
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of records with the given columns, filtered, in key order."""
        entity = self.entity(entity_set)
        return select(
            self.store,
            entity,
            columns=columns,
            lookups=lookups,
            where=where,
            visible={f.name for f in entity.fields},
            resolve=self.entity,
            page_size=page_size,
            order=[(column, False) for column in order_by],
        )

    # hooks -----------------------------------------------------------------------------------

    def prepare_batch(self, entity: Entity, rows: Sequence[dict[str, Any]]) -> Any:
        """Fetch what ``validate`` needs for the whole batch at once; returned as context."""
        return None

    def validate(
        self, entity: Entity, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        """The system's rules for one merged record."""
        return None

    def on_create(self, entity: Entity, row: dict[str, Any]) -> None:
        """Fill system values of a new record (numbers, values from the company), after the
        fields' defaults."""

    def after_write(self, entity: Entity, rows: Sequence[dict[str, Any]]) -> None:
        """Side effects of written records (party records in F&O)."""

    # upsert ----------------------------------------------------------------------------------

    def upsert(
        self, entity_set: str, records: Sequence[Mapping[str, Any]], *, dry_run: bool = False
    ) -> list[Outcome]:
        """Create or update each record by the entity key; one outcome per record, in order.
        With ``dry_run`` everything is checked and nothing is kept; updates say what changes."""
        try:
            return self._upsert(entity_set, records, dry_run)
        except _RolledBack as done:
            return done.outcomes

    def _upsert(
        self, entity_set: str, records: Sequence[Mapping[str, Any]], dry_run: bool
    ) -> list[Outcome]:
        entity = self.entity(entity_set)
        outcomes: list[Outcome | None] = [None] * len(records)
        taken: list[tuple[int, Shape, tuple[Any, ...], dict[str, Any]]] = []
        for index, record in enumerate(records):
            shape = entity.shape(tuple(record))
            try:
                if shape is None:
                    raise ValueError
                key, row = shape.intake(record)
            except ValueError:
                taken_slowly = _take_slowly(entity, record)
                if isinstance(taken_slowly, Rejection):
                    outcomes[index] = Outcome(
                        _key(entity, record),
                        WriteStatus.FAILED,
                        taken_slowly.field,
                        taken_slowly.message,
                    )
                    continue
                key, row = taken_slowly
                shape = entity.shape(tuple(row))
                assert shape is not None  # every name is a field: the slow path checked
            taken.append((index, shape, key, row))
        # To the microsecond: readers of the hub's changes can tell writes apart.
        stamp = utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.store.transaction():
            stored = self._existing(entity, {key for _, _, key, _ in taken})
            context = self.prepare_batch(entity, [row for *_, row in taken])
            changed: dict[tuple[Any, ...], dict[str, Any]] = {}
            validate, modified = self.validate, entity.modified_field
            for index, shape, key, row in taken:
                before = changed.get(key) or stored.get(key)
                if before is None:
                    merged = row
                    shape.fill_defaults(merged)
                    self.on_create(entity, merged)
                else:
                    merged = {**before, **row}
                rejection = validate(entity, merged, before, context)
                if rejection is not None:
                    outcomes[index] = Outcome(
                        key, WriteStatus.FAILED, rejection.field, rejection.message
                    )
                    continue
                if before is None:
                    outcomes[index] = Outcome(key, WriteStatus.CREATED)
                elif all(before.get(c) == v for c, v in row.items()):
                    outcomes[index] = Outcome(key, WriteStatus.UNCHANGED)
                    continue
                else:
                    # Said on every update, not only a dry run's: a dry run against a sandbox
                    # writes to a scratch copy, and shows these.
                    changes = {c: (before.get(c), v) for c, v in row.items() if before.get(c) != v}
                    outcomes[index] = Outcome(key, WriteStatus.UPDATED, changes=changes)
                if modified:
                    merged[modified] = stamp
                changed[key] = merged
            if changed:
                self._write(entity, list(changed.values()))
            done = [o for o in outcomes if o is not None]
            if dry_run:
                raise _RolledBack(done)
        return done

    def _write(self, entity: Entity, rows: list[dict[str, Any]]) -> None:
        # Only the columns some record sets: the others are NULL either way, and a customer
        # has some 60 columns of which a sync sets 20.
        present: set[str] = set()
        for row in rows:
            present.update(row)
        columns = [f.name for f in entity.fields if f.name in present]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        self.store.db.executemany(
            f'INSERT OR REPLACE INTO "{entity.name}" ({names}) VALUES ({marks})',
            _values(rows, columns),
        )
        self.after_write(entity, rows)

    def _existing(
        self, entity: Entity, wanted: set[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """Stored records with these keys: ``k1 = ? AND k2 IN (…)`` on the primary key index
        (k1 is the company in F&O, the organization in CDS), then the full key."""
        key = entity.key
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        if len(key) == 1:
            groups: dict[tuple[Any, ...], set[Any]] = {(): {k[0] for k in wanted}}
            prefix, column = "", key[0]
        else:
            groups = {}
            for k in wanted:
                groups.setdefault((k[0],), set()).add(k[1])
            prefix, column = f'"{key[0]}" = ? AND ', key[1]
        for head, values in groups.items():
            for part in chunks(list(values)):
                marks = ", ".join("?" * len(part))
                where = f'WHERE {prefix}"{column}" IN ({marks})'
                for row in self.store.rows(entity, where, [*head, *part]):
                    row_key = tuple(row[k] for k in key)
                    if row_key in wanted:
                        found[row_key] = row
        return found


class _RolledBack(Exception):
    """Ends a dry run's transaction with a rollback, carrying the outcomes out."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes


def _take_slowly(
    entity: Entity, record: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | Rejection:
    """Field by field, for a record its shape's intake refused: the first field at fault, or
    the key and row when the intake was only stricter than needed (a subclass of str)."""
    row: dict[str, Any] = {}
    for name, value in record.items():
        convert = entity.coercers.get(name)
        if convert is None:
            return Rejection(name, _unknown_property(entity, name))
        try:
            row[name] = convert(value)
        except ValueError as exc:
            return Rejection(name, f"{entity.by_name[name].display}: {exc}.")
    for name in entity.key:
        if row.get(name) in (None, ""):
            return Rejection(name, f"All fields in the entity key must be provided: {name}.")
    return tuple(row[k] for k in entity.key), row


def _values(rows: list[dict[str, Any]], columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows as tuples of these columns, NULL where a row lacks one."""
    if len(columns) > 1:
        try:  # every row has every column: the common case, one shape
            return list(map(operator.itemgetter(*columns), rows))
        except KeyError:
            pass
    return [tuple(map(row.get, columns)) for row in rows]


def _key(entity: Entity, record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(k) for k in entity.key)


def _unknown_property(entity: Entity, name: str) -> str:
    close = difflib.get_close_matches(name, list(entity.by_name), 1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"The property '{name}' does not exist on type '{entity.name}'. Make sure to only use "
        f"property names that are defined by the type.{hint}"
    )
