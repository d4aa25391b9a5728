"""The page as the unit of work: a keyed system's upsert of a whole page in a few statements.

The page's records go into a staging table in one ``executemany``; then, each a statement
over the whole page: the field checks (types, lengths, options, a non-empty key), keys
given twice, the merge over the stored records (``UPDATE … FROM``), defaults and the values
a new record gets, the entity's rules (``SetRules``: the same rules as its ``validate``,
said set-wise), and the write, one ``INSERT … SELECT … ON CONFLICT DO UPDATE``, with the
side effects (F&O's parties) the same way. A row any set-wise check flags goes to the
per-record path instead, so that its outcome and message are exactly what that path says;
so do whole pages the set-wise path cannot take (records of different fields, fields of
types it does not check, entities whose rules have no set-wise form, dry runs).
"""

from __future__ import annotations

__all__ = ["SetRules", "SetWisePage"]

import bisect
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

import apsw

from p2c._rows import RowRecords
from p2c.dynamics import Entity, FieldType, Outcome, WriteStatus
from p2c.sandbox._store import insert_many

if TYPE_CHECKING:
    from p2c.sandbox._keyed import KeyedSystem
    from p2c.sandbox._rules import EntityRules

_TEXT = (FieldType.STRING, FieldType.ENUM, FieldType.NOYES)
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_STATUSES = {s.value: s for s in WriteStatus}


@dataclass(frozen=True)
class SetRules:
    """An entity's rules over a page, as SQL on the staging table (``s``, one row per
    record, merged over the stored record, with the entity's fields as columns).

    Attributes:
        on_create: (field, SQL) set on new rows in order, after the defaults: the values
            ``on_create`` gives.
        flags: Predicates of rows that ``validate`` may refuse (at least every one it
            refuses): those rows take the per-record path, which says why.
        after_write: Statements run after the write; ``{written}`` is a SELECT's
            ``FROM … WHERE`` of the rows written (created or updated), in no order: a
            statement that inserts orders them by the key of the index it inserts into
            (a large index takes keys in its order much faster than at random).
        unique: Fields whose value given twice in a page sends the rows that share it
            record by record (F&O's party numbers: the party's name is the last one's).
            Said apart from ``flags`` so that a page whose values are all different, seen
            so in Python, skips the statement.
    """

    on_create: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()
    after_write: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _python_types_ok(
    entity: Entity, names: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> bool:
    """Whole numbers, money and yes/no values checked in Python: SQL cannot tell True from 1
    once bound. True when the page has no other value these checks would refuse."""
    for position, name in enumerate(names):
        kind = entity.by_name[name].type
        if kind in _TEXT:
            continue
        options = set(entity.by_name[name].options)
        for row in rows:
            value = row[position]
            if value is None:
                continue
            if kind is FieldType.BOOL:
                ok = type(value) is bool
            elif kind is FieldType.MONEY:
                ok = type(value) in (int, float)
            else:  # INT
                ok = type(value) is int and _INT_MIN <= value <= _INT_MAX
                ok = ok and (not options or value in options)
            if not ok:
                return False
    return True


def _not_text(column: str) -> str:
    """A value that is neither text nor NULL (NULL when it is NULL): in SQLite's order of
    values, numbers sort below every text and blobs above, and '' and X'' are the least
    text and blob. Half the time of ``typeof(…) NOT IN ('text', 'null')``; the staged
    columns have no affinity, so nothing is converted before the comparison."""
    return f"{column} < '' OR {column} >= X''"


def _intake_flags(entity: Entity, names: tuple[str, ...]) -> list[str]:
    """What the shape's intake refuses, as predicates on the raw staged values. (An UPDATE
    over the staged page evaluates these faster than the staging INSERT would, on its
    bound values.)"""
    flags = []
    for name in names:
        field = entity.by_name[name]
        column = f"s.{_q(name)}"
        if field.type is FieldType.STRING:
            flags.append(_not_text(column))
            if field.max_length is not None:
                flags.append(f"length({column}) > {int(field.max_length)}")
            if field.fold_case:  # SQLite folds ASCII only: others take the per-record path
                flags.append(f"{column} GLOB '*[^ -~]*'")
        elif field.type in (FieldType.ENUM, FieldType.NOYES):
            symbols = field.options if field.type is FieldType.ENUM else ("Yes", "No")
            listed = ", ".join(_literal(v) for v in symbols)
            flags.append(f"{_not_text(column)} OR {column} NOT IN ({listed})")
    for name in entity.key:
        flags.append(f"(s.{_q(name)} IS NULL OR s.{_q(name)} = '')")
    return flags


def _folded(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _all_different(
    rows: Sequence[tuple[Any, ...]], positions: Sequence[int], folds: Sequence[bool]
) -> bool:
    """Whether no two rows have equal values at these positions, compared as the staged
    values compare in SQL, or more loosely (Python folds the case of all letters, SQLite of
    ASCII ones; every value was bound, so each is hashable)."""
    if not any(folds):
        values: Sequence[Any] = list(map(operator.itemgetter(*positions), rows))
        return len(set(values)) == len(values)
    columns = []
    for position, fold in zip(positions, folds, strict=True):
        column: Sequence[Any] = list(map(operator.itemgetter(position), rows))
        if fold:
            lowered = {v: _folded(v) for v in set(column)}
            column = list(map(lowered.__getitem__, column))
        columns.append(column)
    values = list(zip(*columns, strict=True))
    return len(set(values)) == len(values)


class _Page:
    """One page through the staging table of one entity (a temporary table, made once per
    connection). A row's ``seq`` is its position in the page plus one: the table is
    emptied before a page goes in, so SQLite numbers the rows from 1."""

    def __init__(self, db: apsw.Connection, entity: Entity, names: tuple[str, ...]) -> None:
        self.db = db
        self.entity = entity
        self.names = names
        self.fields = [f.name for f in entity.fields]
        self.key = entity.key
        self.target = _q(entity.name)
        self.stage_name = f"temp.{_q('p2c_stage_' + entity.name)}"
        columns = ", ".join(_q(f) for f in self.fields)
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.stage_name} (seq INTEGER PRIMARY KEY, {columns}, "
            "p2c_bad INTEGER NOT NULL DEFAULT 0, p2c_status TEXT NOT NULL DEFAULT 'created')"
        )
        # A new record's defaults of the fields the page does not set go in with the page:
        # a stored record's merge replaces them (``merge`` sets every absent field).
        self.absent_defaults = [(n, v) for n, v in entity.defaults if n not in names]

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.execute(sql, params)

    def stage(self, rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ["?"] * len(self.names) + [_literal(v) for _, v in self.absent_defaults]
        names = ", ".join(_q(n) for n in (*self.names, *(n for n, _ in self.absent_defaults)))
        self.clear()
        insert_many(
            self.db,
            f"INSERT INTO {self.stage_name} ({names}) VALUES ",
            f"({', '.join(marks)})",
            rows,
            len(self.names),
        )

    def flag(self, predicates: Sequence[str]) -> None:
        if predicates:
            where = " OR ".join(f"({p})" for p in predicates).format(stage=self.stage_name)
            self.run(
                f"UPDATE {self.stage_name} AS s SET p2c_bad = 1 WHERE NOT s.p2c_bad AND ({where})"
            )

    def fold(self) -> None:
        folded = [n for n in self.names if self.entity.by_name[n].fold_case]
        if folded:  # only rows that change: rewriting a staged row costs more than reading it
            sets = ", ".join(f"{_q(n)} = lower({_q(n)})" for n in folded)
            differ = " OR ".join(f"{_q(n)} IS NOT lower({_q(n)})" for n in folded)
            self.run(f"UPDATE {self.stage_name} SET {sets} WHERE NOT p2c_bad AND ({differ})")

    def twice(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Keys given more than once: the per-record path writes them in order."""
        self.given_twice(rows, self.key)

    def given_twice(self, rows: Sequence[tuple[Any, ...]] | None, names: Sequence[str]) -> None:
        """Flag the rows whose values of these fields another row of the page has too;
        no statement where Python sees the page's values (``rows``: the values staged)
        all different."""
        staged = rows is not None and all(n in self.names for n in names)
        positions = [self.names.index(n) for n in names] if staged else []
        folds = [self.entity.by_name[n].fold_case for n in names]
        if staged and rows is not None and _all_different(rows, positions, folds):
            return
        columns = ", ".join(_q(n) for n in names)
        self.run(
            f"UPDATE {self.stage_name} SET p2c_bad = 1 WHERE ({columns}) IN "
            f"(SELECT {columns} FROM {self.stage_name} GROUP BY {columns} HAVING count(*) > 1)"
        )

    def merge(self) -> None:
        """Stored values of the fields the page does not set, and whether the page changes
        the stored record at all."""
        on = " AND ".join(f"t.{_q(k)} = {self.stage_name}.{_q(k)}" for k in self.key)
        absent = [f for f in self.fields if f not in self.names]
        same = " AND ".join(f"t.{_q(n)} IS {self.stage_name}.{_q(n)}" for n in self.names) or "1"
        sets = [f"{_q(f)} = t.{_q(f)}" for f in absent]
        sets.append(f"p2c_status = CASE WHEN ({same}) THEN 'unchanged' ELSE 'updated' END")
        # Rows with no stored record keep the status they were staged with: created.
        self.run(
            f"UPDATE {self.stage_name} SET {', '.join(sets)} FROM {self.target} AS t "
            f"WHERE {on} AND NOT {self.stage_name}.p2c_bad"
        )

    def create(self, on_create: Sequence[tuple[str, str]]) -> None:
        """Defaults, then the rules' values, on new rows."""
        # The defaults of absent fields came with the page (``stage``); those of the fields
        # it sets fill the new rows that leave them empty. Each statement rewrites only the
        # rows it changes.
        given = [(_q(n), _literal(v)) for n, v in self.entity.defaults if n in self.names]
        if given:
            sets = ", ".join(f"{c} = COALESCE({c}, {v})" for c, v in given)
            empty = " OR ".join(f"{c} IS NULL" for c, _ in given)
            self.run(
                f"UPDATE {self.stage_name} SET {sets} "
                f"WHERE NOT p2c_bad AND p2c_status = 'created' AND ({empty})"
            )
        for name, sql in on_create:
            sql = sql.format(stage=self.stage_name)
            self.run(
                f"UPDATE {self.stage_name} AS s SET {_q(name)} = ({sql}) "
                f"WHERE NOT s.p2c_bad AND s.p2c_status = 'created' AND s.{_q(name)} IS NOT ({sql})"
            )

    def write(self, stamp: str | None, restamp: bool) -> None:
        """The written rows into the target, the modified field stamped on the way (and on
        the staged rows only when ``restamp``: the side effects read them)."""
        written = "NOT p2c_bad AND p2c_status IN ('created', 'updated')"
        modified = self.entity.modified_field
        stamped = modified is not None and stamp is not None
        if modified is not None and stamped and restamp:
            self.run(f"UPDATE {self.stage_name} SET {_q(modified)} = ? WHERE {written}", (stamp,))
        values = ", ".join("?" if stamped and f == modified else _q(f) for f in self.fields)
        columns = ", ".join(_q(f) for f in self.fields)
        updates = ", ".join(f"{_q(f)} = excluded.{_q(f)}" for f in self.fields if f not in self.key)
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        # In key order, not page order: the keys written are all different (a key given
        # twice goes record by record), and a large index takes them much faster so.
        self.run(
            f"INSERT INTO {self.target} ({columns}) SELECT {values} FROM {self.stage_name} "
            f"WHERE {written} ORDER BY {', '.join(_q(k) for k in self.key)} "
            f"ON CONFLICT ({', '.join(_q(k) for k in self.key)}) {conflict}",
            (stamp,) if stamped else (),
        )

    def flagged(self) -> list[int]:
        return [
            s - 1
            for (s,) in self.db.execute(
                f"SELECT seq FROM {self.stage_name} WHERE p2c_bad ORDER BY seq"
            )
        ]

    def outcomes(self, keys: list[tuple[Any, ...]] | None, flagged: Sequence[int]) -> list[Outcome]:
        """The outcomes of the rows no check flagged, in page order. Their keys are as
        staged (folded as the intake folds them: ASCII only reaches here, and SQL's lower
        is Python's): ``keys``, the page's as Python folds them, when given; else read
        back. Made without a Python step per row: a page is thousands of them."""
        if keys is not None and flagged:
            skip = set(flagged)
            keys = [k for i, k in enumerate(keys) if i not in skip]
        if keys is None:
            columns = ", ".join(_q(k) for k in self.key)
            keys = self.db.execute(
                f"SELECT {columns} FROM {self.stage_name} WHERE NOT p2c_bad ORDER BY seq"
            ).fetchall()
        statuses = [WriteStatus.CREATED] * len(keys)
        others = self.db.execute(
            f"SELECT seq, p2c_status FROM {self.stage_name} "
            "WHERE NOT p2c_bad AND p2c_status <> 'created' ORDER BY seq"
        )
        for seq, status in others:  # the position among the rows not flagged
            statuses[seq - 1 - bisect.bisect_left(flagged, seq - 1)] = _STATUSES[status]
        made = zip(keys, statuses, repeat(None), repeat(None), repeat(False), repeat(None))
        done: list[Outcome] = list(map(tuple.__new__, repeat(Outcome), made))
        self.clear()
        return done

    def clear(self) -> None:
        self.run(f"DELETE FROM {self.stage_name}")


class SetWisePage:
    """A page upserted set-wise, in two steps inside the caller's transaction: ``prepare``
    checks, merges and flags (writing nothing) and names the records for the per-record
    path; the caller writes those first, so that they see the system as it was before the
    page, as they would on the per-record path alone; then ``finish`` writes the others.

    Args:
        system: The keyed system.
        entity: The entity written.
        rules: Its rules (their ``set_wise`` form).
        records: The page.
    """

    def __init__(
        self,
        system: KeyedSystem,
        entity: Entity,
        rules: EntityRules[Any],
        records: Sequence[Mapping[str, Any]],
    ) -> None:
        self.system = system
        self.entity = entity
        self.rules = rules.set_wise()
        self.records = records
        self.page: _Page | None = None
        self.keys: list[tuple[Any, ...]] | None = None
        self.flagged: list[int] = []

    def _rows(self) -> tuple[tuple[str, ...], Sequence[tuple[Any, ...]]] | None:
        """The page as rows of one set of fields; None when it is not one."""
        entity, records = self.entity, self.records
        given = records.rows if isinstance(records, RowRecords) else None
        names = tuple(records.names) if isinstance(records, RowRecords) else tuple(records[0])
        if not all(n in entity.by_name for n in names) or not all(k in names for k in entity.key):
            return None
        supported = (*_TEXT, FieldType.INT, FieldType.MONEY, FieldType.BOOL)
        fields = [entity.by_name[n] for n in names]
        if any(f.type not in supported or f.read_only for f in fields):
            return None
        if any(f.polymorphic for f in entity.fields):
            return None
        if given is not None:
            return (names, given) if _python_types_ok(entity, names, given) else None
        if any(len(r) != len(names) for r in records):
            return None
        get = operator.itemgetter(*names)
        try:
            one = len(names) == 1
            rows = [(get(r),) for r in records] if one else list(map(get, records))
        except KeyError:
            return None
        return (names, rows) if _python_types_ok(entity, names, rows) else None

    def _keys(
        self, names: tuple[str, ...], rows: Sequence[tuple[Any, ...]], rules: SetRules
    ) -> None:
        """The keys of the page's rows as staged, when Python can tell them: every value
        a plain text (a subclass's is read back), folded as staged."""
        self.keys = None
        if any(name in self.entity.key for name, _ in rules.on_create):
            return
        columns = []
        for name in self.entity.key:
            column = list(map(operator.itemgetter(names.index(name)), rows))
            kinds = set(map(type, column))
            if kinds != {str}:
                return
            if self.entity.by_name[name].fold_case:
                lowered = {v: v.lower() for v in set(column)}
                column = list(map(lowered.__getitem__, column))
            columns.append(column)
        self.keys = list(zip(*columns, strict=True))

    def prepare(self) -> list[int] | None:
        """Check and merge the page; the positions of the records for the per-record path,
        or None when the page cannot go set-wise at all (then nothing was done)."""
        if self.rules is None or not self.records:
            return None
        shaped = self._rows()
        if shaped is None:
            return None
        names, rows = shaped
        page = _Page(self.system.store.db, self.entity, names)
        try:
            page.stage(rows)
        except (TypeError, ValueError, OverflowError, apsw.Error):
            page.clear()
            return None  # a value SQLite cannot hold: the per-record path says which
        page.flag(_intake_flags(self.entity, names))
        page.fold()
        page.twice(rows)
        page.merge()
        page.create(self.rules.on_create)
        page.flag(self.rules.flags)
        # Values as staged, unless a new record's default or rules set them.
        created = {name for name, _ in (*self.rules.on_create, *self.entity.defaults)}
        for name in self.rules.unique:
            page.given_twice(None if name in created else rows, (name,))
        self._keys(names, rows, self.rules)
        self.page = page
        self.flagged = page.flagged()
        return self.flagged

    def finish(self, stamp: str | None) -> list[Outcome]:
        """Write the records no check flagged; their outcomes, in page order."""
        page = self.page
        assert page is not None and self.rules is not None
        page.write(stamp, restamp=bool(self.rules.after_write))
        written = (
            f"{page.stage_name} AS s WHERE NOT s.p2c_bad AND s.p2c_status IN ('created', 'updated')"
        )
        for statement in self.rules.after_write:
            page.run(statement.format(written=written))
        return page.outcomes(self.keys, self.flagged)
