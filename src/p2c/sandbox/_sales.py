"""The sandbox Sales: Dataverse tables in SQLite, written through the platform's and the
Prospect-to-cash solution's rules."""

from __future__ import annotations

__all__ = ["ROOT_BUSINESS_UNIT", "SalesSandbox"]

import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from p2c._errors import ConfigError, NotFoundError, P2CError
from p2c.dynamics import (
    ACTIVITY_SETS,
    P2C_SOLUTION,
    SALES,
    Entity,
    format_number,
    utc_now,
    utc_text,
)
from p2c.odata import Filter
from p2c.sandbox._bodies import Binding, prepare, present, raise_problems
from p2c.sandbox._changes import ChangeLog
from p2c.sandbox._p2c import P2CSolution, UpgradeReport
from p2c.sandbox._query import select
from p2c.sandbox._store import Store
from p2c.sandbox._versions import COLUMN as VERSION
from p2c.sandbox._versions import install_row_versions, next_versions, numbered_here

ROOT_BUSINESS_UNIT = "Contoso Sales"
CURRENCIES = (
    ("USD", "US Dollar", "$"),
    ("EUR", "Euro", "€"),
    ("GBP", "Pound Sterling", "£"),
    ("SEK", "Swedish Krona", "kr"),
    ("NOK", "Norwegian Krone", "kr"),
)

# Tables the system fills itself: a load file cannot carry them.
_SYSTEM_TABLES = frozenset({"businessunit", "msdynce_p2cautonumber"})


def _load_order() -> list[str]:
    """Entity sets a load file may carry, in the order they are written: the model's order,
    in which a table comes after the tables it looks up (currencies, accounts, contacts,
    quotes, orders, invoices, then any an extension added)."""
    return [e.entity_set for e in SALES.entities if e.name not in _SYSTEM_TABLES]


# Dataverse numbers quotes, orders and invoices itself (QUO-01000-XXXXXX and so on).
_BUILT_IN_NUMBERS = {
    "quote": ("quotenumber", "QUO"),
    "salesorder": ("ordernumber", "ORD"),
    "invoice": ("invoicenumber", "INV"),
}


class SalesSandbox:
    """Local Dynamics 365 Sales.

    Args:
        path: The SQLite file.
        create: Create the file and tables when missing.
    """

    def __init__(self, path: Path, *, create: bool = False) -> None:
        # The model as it is when the sandbox opens: an entity added to it has its table.
        entities = SALES.entities
        self.store = Store(path, entities, create=create)
        install_row_versions(self.store, entities)
        self.changes = ChangeLog(self.store)
        self.solution = P2CSolution(self.store)
        self._sets = {e.entity_set: e.name for e in entities}
        self._created_ids: dict[str, list[str]] = {}

    def close(self) -> None:
        self.store.close()

    def initialize(self, *, with_p2c: bool = True) -> None:
        """Seed a new Sales: the root business unit, currencies, optionally the solution."""
        with self.store.transaction():
            now = utc_text(utc_now())
            bu = SALES.entity("businessunit")
            if not self.store.count(bu):
                self.store.insert(
                    bu,
                    ["businessunitid", "name", "createdon", "modifiedon"],
                    [(str(uuid.uuid4()), ROOT_BUSINESS_UNIT, now, now)],
                )
            if not self.store.count(SALES.entity("transactioncurrencies")):
                self.load(
                    {
                        "transactioncurrencies": [
                            {"isocurrencycode": c, "currencyname": n, "currencysymbol": s}
                            for c, n, s in CURRENCIES
                        ]
                    }
                )
            if with_p2c:
                self.solution.install()

    # reading ---------------------------------------------------------------------------------

    @property
    def installed_solutions(self) -> set[str]:
        return {P2C_SOLUTION} if self.solution.installed else set()

    def visible_columns(self, entity: Entity) -> set[str]:
        return {f.name for f in entity.visible(self.installed_solutions)}

    def root_business_unit(self) -> dict[str, Any]:
        rows = self.store.rows(SALES.entity("businessunit"), "WHERE parentbusinessunitid IS NULL")
        root = next(rows, None)
        if root is None:
            raise NotFoundError("Sales has no root business unit.", fix="run `p2c init` again")
        return root

    def export(self, entity_set: str) -> Iterator[dict[str, Any]]:
        """Every record of the set as the Web API shows it, lookups both as their logical
        column (GUID plus ``<name>type`` where polymorphic) and as ``_<name>_value``."""
        entity = SALES.entity(entity_set)
        fields = entity.visible(self.installed_solutions)
        return (present(entity, fields, row) for row in self.store.rows(entity))

    def count(self, entity_set: str) -> int:
        return self.store.count(SALES.entity(entity_set))

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
        """Pages of records: ``$select`` columns, lookup paths, ``$filter``; see ``select``."""
        entity = SALES.entity(entity_set)
        return select(
            self.store,
            entity,
            columns=columns,
            lookups=lookups,
            where=where,
            visible=self.visible_columns(entity),
            resolve=SALES.entity,
            page_size=page_size,
            order=[(column, False) for column in order_by],
        )

    def find(self, entity_set: str, key: str | Mapping[str, Any]) -> str | None:
        """The id of the record with this id or alternate key, or None when there is none.

        Args:
            entity_set: Entity set or logical name.
            key: The record's GUID, or the values of an alternate key such as
                ``{"msdynce_contactnumber": "CON-01000-BVRCPS"}``.

        Raises:
            ConfigError: the columns are not an alternate key of the entity.
        """
        entity = SALES.entity(entity_set)
        if isinstance(key, str):
            values: dict[str, Any] = {entity.key[0]: key}
        else:
            values = dict(key)
            names = tuple(sorted(values))
            if names not in {tuple(sorted(k)) for k in entity.alternate_keys.values()}:
                raise ConfigError(
                    f"{entity.name} has no alternate key on {', '.join(names)}.",
                    fix="use the record id or one of the alternate keys: "
                    + "; ".join(", ".join(k) for k in entity.alternate_keys.values()),
                )
        where = " AND ".join(f'"{n}" = ?' for n in values)
        row = self.store.db.execute(
            f'SELECT "{entity.key[0]}" FROM "{entity.name}" WHERE {where}', list(values.values())
        ).fetchone()
        return None if row is None else str(row[0])

    # writing ---------------------------------------------------------------------------------

    def load(self, document: Mapping[str, Any]) -> dict[str, int]:
        """Create the records of a load file, all or nothing; return counts per entity set.

        Raises:
            InputError: listing every problem with its position, field and fix.
        """
        order = _load_order()
        unknown = [name for name in document if name not in order]
        problems: list[P2CError] = [
            P2CError(
                f"unknown entity set {name!r}",
                record=name,
                fix=f"use one of: {', '.join(order)}",
            )
            for name in unknown
        ]
        for name in order:
            if name in document and not isinstance(document[name], list):
                problems.append(P2CError(f"{name} must be a JSON array of records", record=name))
        raise_problems(problems, "The load file is not valid")
        prepared = {}
        for set_name in order:
            if set_name in document:
                entity = SALES.entity(set_name)
                result = prepare(
                    entity,
                    document[set_name],
                    where=set_name,
                    visible=self.visible_columns(entity),
                    entity_sets=self._sets,
                )
                problems += result.problems
                prepared[set_name] = result
        with self.store.transaction():
            pending = {
                s: self._assign_ids(SALES.entity(s), p.rows, problems) for s, p in prepared.items()
            }
            pending_by_entity = {SALES.entity(s).name: ids for s, ids in pending.items()}
            for p in prepared.values():
                self._resolve(p.bindings, pending_by_entity, problems)
            self._check_alternate_keys(prepared, problems)
            raise_problems(problems, "The load file was refused")
            for set_name, p in prepared.items():
                self._insert(SALES.entity(set_name), p.rows)
        return {s: len(p.rows) for s, p in prepared.items()}

    def create(self, entity_set: str, bodies: list[dict[str, Any]]) -> list[str]:
        """Create records of one entity set; return their ids."""
        self.load({entity_set: bodies})
        return self._created_ids[SALES.entity(entity_set).name]

    def update(self, entity_set: str, record_id: str, body: dict[str, Any]) -> None:
        """Update one record through the plug-in steps (company flag, active customer)."""
        entity = SALES.entity(entity_set)
        key = entity.key[0]
        result = prepare(
            entity,
            [body],
            where=f"{entity_set}({record_id})",
            visible=self.visible_columns(entity),
            entity_sets=self._sets,
            update=True,
        )
        problems = result.problems
        raise_problems(problems, "The update was refused")
        with self.store.transaction():
            if not self.store.existing(entity, key, [record_id]):
                raise NotFoundError(
                    f"{entity.name} With Id = {record_id} Does Not Exist", record=record_id
                )
            self._resolve(result.bindings, {}, problems)
            changes = result.rows[0]
            self._check_alternate_keys({entity_set: result}, problems, exclude=record_id)
            raise_problems(problems, "The update was refused")
            if self.solution.installed:
                self.solution.before_update(entity.name, changes)
            changes["modifiedon"] = utc_text(utc_now())
            assignments = ", ".join(f'"{c}" = ?' for c in changes)
            self.store.db.execute(
                f'UPDATE "{entity.name}" SET {assignments} WHERE "{key}" = ?',
                (*changes.values(), record_id),
            )
            if (
                self.solution.installed
                and entity_set in ACTIVITY_SETS
                and changes.get("customeridtype") == "contact"
            ):
                self.solution.mark_active_customers([changes["customerid"]])

    def delete(self, entity_set: str, key: str | Mapping[str, Any]) -> str:
        """Delete one record by id or alternate key; return its id.

        Lookups that point at it lose their link, unless a required lookup does (a quote's,
        order's or invoice's customer): then the delete is refused, as a restricting
        relationship refuses it (INFERRED: the cascade rules of these relationships). A
        tracked table logs the delete, so delta links report the record as removed.

        Raises:
            NotFoundError: no record has that id or key.
            InputError: a required lookup of another record points at it.
        """
        entity = SALES.entity(entity_set)
        with self.store.transaction():
            record_id = self.find(entity_set, key)
            if record_id is None:
                raise NotFoundError(
                    f"{entity.name} With Id = {key} Does Not Exist"
                    if isinstance(key, str)
                    else f"A record with the specified key values does not exist in "
                    f"{entity.name} entity",
                    record=str(key),
                )
            problems: list[P2CError] = []
            for other in SALES.entities:
                for f in other.fields:
                    if entity.name in f.targets:
                        self._unlink(other, f, entity.name, record_id, problems)
            raise_problems(problems, "The delete was refused")
            self.store.db.execute(
                f'DELETE FROM "{entity.name}" WHERE "{entity.key[0]}" = ?', (record_id,)
            )
            if self.changes.enabled(entity):
                self.changes.log(entity, [record_id])
        return record_id

    def upgrade(self) -> UpgradeReport:
        """The Prospect-to-cash upgrade script."""
        return self.solution.upgrade()

    # internals -------------------------------------------------------------------------------

    def _unlink(
        self, other: Entity, f: Any, target: str, record_id: str, problems: list[P2CError]
    ) -> None:
        """Remove the links of ``other.f`` to a deleted record, or refuse when f is required."""
        where = f'"{f.name}" = ?' + (f' AND "{f.name}type" = ?' if f.polymorphic else "")
        params: list[Any] = [record_id, target] if f.polymorphic else [record_id]
        if f.required:
            found = self.store.scalar(f'SELECT COUNT(*) FROM "{other.name}" WHERE {where}', params)
            if found:
                problems.append(
                    P2CError(
                        "The object you tried to delete is associated with another object and "
                        f"cannot be deleted: {found} {other.entity_set} have it as {f.display}.",
                        record=record_id,
                        field=f.name,
                        fix=f"delete those {other.entity_set} first or point them elsewhere",
                    )
                )
            return
        blank = f'"{f.name}" = NULL' + (f', "{f.name}type" = NULL' if f.polymorphic else "")
        self.store.db.execute(f'UPDATE "{other.name}" SET {blank} WHERE {where}', params)

    def _assign_ids(
        self, entity: Entity, rows: list[dict[str, Any]], problems: list[P2CError]
    ) -> set[str]:
        key = entity.key[0]
        given = [r[key] for r in rows if r.get(key)]
        clash = self.store.existing(entity, key, given)
        seen: set[str] = set()
        for index, row in enumerate(rows):
            record_id = row.get(key)
            if record_id is None:
                row[key] = str(uuid.uuid4())
            elif record_id in clash or record_id in seen:
                problems.append(
                    P2CError(
                        f"A record with id {record_id} already exists",
                        record=f"{entity.entity_set}[{index}]",
                        field=key,
                        fix="leave the id out or use a new one",
                    )
                )
            seen.add(row[key])
        return seen

    def _resolve(
        self, bindings: list[Binding], pending: dict[str, set[str]], problems: list[P2CError]
    ) -> None:
        """Fill lookup columns from their bindings, in bulk; a missing target is a problem."""
        by_target: dict[str, list[Binding]] = defaultdict(list)
        for binding in bindings:
            by_target[binding.target].append(binding)
        for target, group in by_target.items():
            entity = SALES.entity(target)
            key = entity.key[0]
            ids: list[str] = []
            for b in group:
                if isinstance(b.key, str):
                    try:
                        b.row[b.column] = str(uuid.UUID(b.key))
                        ids.append(b.row[b.column])
                    except ValueError:
                        problems.append(
                            P2CError(f"{b.key!r} is not a GUID", record=b.position, field=b.nav)
                        )
                else:
                    b.row[b.column] = self._by_alternate_key(entity, dict(b.key), b, problems)
            known = pending.get(target, set()) | self.store.existing(entity, key, ids)
            for b in group:
                value = b.row[b.column]
                if isinstance(b.key, str) and value is not None and value not in known:
                    problems.append(
                        P2CError(
                            f"{entity.name} With Id = {value} Does Not Exist",
                            record=b.position,
                            field=b.nav,
                            fix=f"load the {entity.name} first or correct the id",
                        )
                    )

    def _by_alternate_key(
        self, entity: Entity, key: dict[str, str], b: Binding, problems: list[P2CError]
    ) -> str | None:
        names = tuple(sorted(key))
        if names not in {tuple(sorted(k)) for k in entity.alternate_keys.values()}:
            problems.append(
                P2CError(
                    f"{entity.name} has no alternate key on {', '.join(names)}",
                    record=b.position,
                    field=b.nav,
                    fix="bind by id, e.g. /contacts(<guid>)",
                )
            )
            return None
        where = " AND ".join(f'"{n}" = ?' for n in names)
        row = self.store.db.execute(
            f'SELECT "{entity.key[0]}" FROM "{entity.name}" WHERE {where}', [key[n] for n in names]
        ).fetchone()
        if row is None:
            problems.append(
                P2CError(
                    f"No {entity.name} has {key}",
                    record=b.position,
                    field=b.nav,
                    fix=f"load the {entity.name} first",
                )
            )
            return None
        return str(row[0])

    def _check_alternate_keys(
        self, prepared: Mapping[str, Any], problems: list[P2CError], exclude: str | None = None
    ) -> None:
        """Given values of unique keys (Contact Number) must not repeat."""
        for set_name, p in prepared.items():
            entity = SALES.entity(set_name)
            for key_name, (column,) in (
                (k, c) for k, c in entity.alternate_keys.items() if len(c) == 1
            ):
                values = [r[column] for r in p.rows if r.get(column)]
                taken = self.store.existing(entity, column, values)
                if exclude is not None:
                    own = self.store.db.execute(
                        f'SELECT "{column}" FROM "{entity.name}" WHERE "{entity.key[0]}" = ?',
                        (exclude,),
                    ).fetchone()
                    taken.discard(own[0] if own else None)
                seen: set[str] = set()
                for index, row in enumerate(p.rows):
                    value = row.get(column)
                    if value and (value in taken or value in seen):
                        problems.append(
                            P2CError(
                                f"A record that has the attribute values {value} already exists. "
                                f"The entity key {key_name} requires that this set of attributes "
                                "contains unique values.",
                                record=f"{set_name}[{index}]",
                                field=column,
                                fix=f"leave {column} empty to have it numbered, or use a new value",
                            )
                        )
                    seen.add(value)

    def _insert(self, entity: Entity, rows: list[dict[str, Any]]) -> None:
        now = utc_text(utc_now())
        root = (
            self.root_business_unit()["businessunitid"] if entity.name != "businessunit" else None
        )
        solution = self.solution.installed
        for f in entity.fields:
            if f.default is not None and (f.solution is None or solution):
                for row in rows:
                    if row.get(f.name) is None:
                        row[f.name] = f.default
        for row in rows:
            row["createdon"] = row["modifiedon"] = now
            if "owningbusinessunit" in entity.by_name and not row.get("owningbusinessunit"):
                row["owningbusinessunit"] = root
        if entity.name == "contact":
            for row in rows:
                row["fullname"] = " ".join(
                    p for p in (row.get("firstname"), row.get("lastname")) if p
                )
        if entity.name in _BUILT_IN_NUMBERS:
            column, prefix = _BUILT_IN_NUMBERS[entity.name]
            missing = [r for r in rows if not r.get(column)]
            start = int(self.store.setting(f"sequence:{entity.name}", "1000") or 1000)
            for offset, row in enumerate(missing):
                row[column] = format_number(prefix, start + offset, 6)
            self.store.set_setting(f"sequence:{entity.name}", str(start + len(missing)))
        if solution:
            self.solution.before_create(entity.name, rows)
        if VERSION in entity.by_name:
            for row, version in zip(rows, next_versions(self.store, len(rows)), strict=True):
                row[VERSION] = version
        columns = entity.columns
        with numbered_here(self.store, entity):
            self.store.insert(entity, columns, ([row.get(c) for c in columns] for row in rows))
        self._created_ids[entity.name] = [row[entity.key[0]] for row in rows]
        if solution and entity.entity_set in ACTIVITY_SETS:
            self.solution.mark_active_customers(
                [r["customerid"] for r in rows if r.get("customeridtype") == "contact"]
            )
