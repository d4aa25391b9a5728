"""Upsert by entity key with per-record outcomes: the write model of F&O and the CDS hub.

A batch of records is checked field by field, merged over the stored record with the same
key, validated by its entity's rules (``_rules.py``) and written in one statement. Each
record gets its own outcome, so one bad record never stops the others.
"""

from __future__ import annotations

__all__ = ["KeyedSystem"]

import difflib
import operator
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from p2c._errors import ConfigError, NotFoundError
from p2c._rows import RowRecords
from p2c.dynamics import Entity, Outcome, Shape, SystemModel, WriteStatus, utc_now
from p2c.odata import Filter
from p2c.sandbox._query import select
from p2c.sandbox._rules import EntityRules, Rejection, rules_class
from p2c.sandbox._setwise import SetWisePage
from p2c.sandbox._store import Store, chunks


class KeyedSystem:
    """A system whose entities are written by upsert on their key.

    Its tables and rules come from its ``model`` and the rules registry when it opens, so
    an entity an extension added to the model (``FINOPS.add``) has its table, and is
    written once rules are registered for it (``register_rules``). Subclasses name their
    ``model``.

    Args:
        path: The SQLite file.
        create: Create the file when missing.
    """

    model: ClassVar[SystemModel]

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.entities = self.model.entities
        self.store = Store(path, self.entities, create=create)
        self._by_set = {e.entity_set.lower(): e for e in self.entities}
        self._rules: dict[str, EntityRules[Any]] = {}
        for entity in self.entities:
            found = rules_class(self.model, entity)
            if found is not None:
                self._rules[entity.name] = found(self, entity)

    @property
    def name(self) -> str:
        """The system's name in messages."""
        return self.model.label

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

    def rules(self, entity: Entity) -> EntityRules[Any]:
        """The rules of an entity; ConfigError when none are registered: the sandbox never
        writes an entity by another's rules."""
        found = self._rules.get(entity.name)
        if found is None:
            raise ConfigError(
                f"{self.name} has no rules for entity {entity.entity_set!r} ({entity.name}), "
                "so the sandbox does not write it.",
                fix=f"register rules for it before opening the sandbox: "
                f"p2c.sandbox.register_rules({self.model.name!r}, {entity.entity_set!r}, "
                "YourRules) with an EntityRules class (EntityRules itself checks nothing more "
                "than the fields); see docs/extending.md",
            )
        return found

    # upsert ----------------------------------------------------------------------------------

    def upsert(
        self,
        entity_set: str,
        records: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
        set_wise: bool = True,
    ) -> list[Outcome]:
        """Create or update each record by the entity key; one outcome per record, in order.
        With ``dry_run`` everything is checked and nothing is kept; updates say what changes.

        The page goes set-wise where the entity's rules have a set-wise form
        (``_setwise.py``); the records a set-wise check flags, and whole pages it cannot
        take, go record by record. ``set_wise=False`` sends every record that way (the
        outcomes and the stored records are the same: tests hold both paths to it)."""
        try:
            return self._upsert(entity_set, records, dry_run, set_wise and not dry_run)
        except _RolledBack as done:
            return done.outcomes

    def upsert_rows(
        self,
        entity_set: str,
        fields: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        set_wise: bool = True,
    ) -> list[Outcome]:
        """``upsert`` of records given as rows, each the values of ``fields`` in order: the
        set-wise path stages them as they are; a record is made only for the per-record
        path."""
        records = RowRecords(tuple(fields), rows)
        return self._upsert(entity_set, records, False, set_wise)

    def _upsert(
        self, entity_set: str, records: Sequence[Mapping[str, Any]], dry_run: bool, fast: bool
    ) -> list[Outcome]:
        entity = self.entity(entity_set)
        rules = self.rules(entity)
        # To the microsecond: readers of the hub's changes can tell writes apart.
        stamp = utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.store.transaction():
            page = SetWisePage(self, entity, rules, records) if fast else None
            rest = page.prepare() if page is not None else None
            if page is None or rest is None:
                done = self._per_record(entity, rules, records, stamp, dry_run)
            else:
                # The flagged records first: they see the system as it was before the page.
                slow = self._per_record(entity, rules, [records[i] for i in rest], stamp, False)
                done = page.finish(stamp)  # the others', in order
                if rest:
                    done = _interleave(rest, slow, done)
            if dry_run:
                raise _RolledBack(done)
        return done

    def _per_record(
        self,
        entity: Entity,
        rules: EntityRules[Any],
        records: Sequence[Mapping[str, Any]],
        stamp: str,
        dry_run: bool,
    ) -> list[Outcome]:
        """Record by record, inside the caller's transaction: the field checks, the merge
        over the stored record, the rules and the write of the whole batch."""
        outcomes: list[Outcome | None] = [None] * len(records)
        taken = _take(entity, records, outcomes)
        stored = self._existing(entity, {key for _, _, key, _ in taken})
        context = rules.prepare_batch([row for *_, row in taken])
        changed: dict[tuple[Any, ...], dict[str, Any]] = {}
        validate, on_create, modified = rules.validate, rules.on_create, entity.modified_field
        for index, shape, key, row in taken:
            before = changed.get(key) or stored.get(key)
            if before is None:
                merged = row
                shape.fill_defaults(merged)
                on_create(merged)
            else:
                merged = {**before, **row}
            rejection = validate(merged, before, context)
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
            rows = list(changed.values())
            self._write(entity, rows)
            rules.after_write(rows)
        return [o for o in outcomes if o is not None]

    def delete(self, entity_set: str, key: Mapping[str, Any]) -> bool:
        """Delete the record with this entity key; False when there is none. Its party stays
        in the global address book (INFERRED: F&O keeps a party when a role of it goes)."""
        entity = self.entity(entity_set)
        where = " AND ".join(f'"{k}" = ?' for k in entity.key)
        with self.store.transaction():
            return (
                self.store.change(
                    f'DELETE FROM "{entity.name}" WHERE {where}', [key[k] for k in entity.key]
                )
                > 0
            )

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


_Taken = tuple[int, Shape, tuple[Any, ...], dict[str, Any]]


def _take(
    entity: Entity, records: Sequence[Mapping[str, Any]], outcomes: list[Outcome | None]
) -> list[_Taken]:
    """(position, shape, key, stored row) of each record whose fields pass their checks; a
    failed outcome at the position of each that does not."""
    taken: list[_Taken] = []
    for index, record in enumerate(records):
        shape = entity.shape(tuple(record))
        try:
            if shape is None:
                raise ValueError
            key, row = shape.intake(record)
        except ValueError:
            taken_slowly = _take_slowly(entity, record)
            if isinstance(taken_slowly, Rejection):
                field, message = taken_slowly.field, taken_slowly.message
                outcomes[index] = Outcome(_key(entity, record), WriteStatus.FAILED, field, message)
                continue
            key, row = taken_slowly
            shape = entity.shape(tuple(row))
            assert shape is not None  # every name is a field: the slow path checked
        taken.append((index, shape, key, row))
    return taken


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


def _interleave(
    positions: Sequence[int], placed: Sequence[Outcome], others: Sequence[Outcome]
) -> list[Outcome]:
    """``placed`` at their ``positions`` (ascending), ``others`` in order around them."""
    done: list[Outcome] = []
    taken = 0
    for position, outcome in zip(positions, placed, strict=True):
        before = position - len(done)  # the others' outcomes ahead of this one
        done.extend(others[taken : taken + before])
        taken += before
        done.append(outcome)
    done.extend(others[taken:])
    return done


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
