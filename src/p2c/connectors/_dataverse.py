"""Dynamics 365 Sales through the Dataverse Web API (``<url>/api/data/v9.2/``).

Records come back in the shape the sandbox connector gives the engine: a lookup column by
its logical name (``parentcustomerid``, the GUID of ``_parentcustomerid_value``) and a lookup
path as a flat key (``parentcustomerid.accountnumber``, read through ``$expand`` of the
navigation property, ``parentcustomerid_account`` for a polymorphic lookup).
"""

from __future__ import annotations

__all__ = ["DATAVERSE", "DataverseDestination", "DataverseSource", "DataverseType"]

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from p2c._errors import ConfigError
from p2c.connectors._base import Changes, Destination, ReadRequest, Record, Source
from p2c.connectors._config import DataverseConnection
from p2c.connectors._http import ApiSession, Call
from p2c.connectors._kind import System
from p2c.connectors._odata import HttpDestination, Key, key_segment, read_pages, with_query
from p2c.connectors._remote import HttpConnectionType
from p2c.connectors._upgrade import upgrade_through_web_api
from p2c.dynamics import SALES, Entity, FieldType
from p2c.odata import Compare, Filter, Logical, Not, to_odata
from p2c.sandbox import UpgradeReport

API_PATH = "/api/data/v9.2/"


@dataclasses.dataclass(frozen=True)
class _Path:
    """A lookup path and the navigation properties that carry it."""

    name: str
    column: str
    navigations: tuple[str, ...]


def _navigations(entity: Entity, path: str) -> _Path:
    lookup_name, _, column = path.partition(".")
    lookup = entity.by_name.get(lookup_name)
    if lookup is None or lookup.type is not FieldType.LOOKUP:
        raise ConfigError(
            f"{path!r}: {lookup_name!r} is not a lookup of {entity.name}.",
            field=path,
            fix="use a lookup column, e.g. parentcustomerid.accountnumber",
        )
    navigations = tuple(
        f"{lookup_name}_{target}" if lookup.polymorphic else lookup_name
        for target in lookup.targets
        if column in SALES.entity(target).by_name
    )
    if not navigations:
        raise ConfigError(
            f"{path!r}: no target of {lookup_name} has a column {column!r}.", field=path
        )
    return _Path(path, column, navigations)


def _is_guid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def render_filter(entity: Entity, tree: Filter) -> str:
    """``$filter`` text for Dataverse: a lookup column becomes ``_<name>_value`` compared
    with a bare GUID, a lookup path ``<navigation>/<column>`` (either target of a
    polymorphic lookup). Values are rendered by ``to_odata``, never pasted."""
    if isinstance(tree, Logical):
        return f"({render_filter(entity, tree.left)} {tree.op} {render_filter(entity, tree.right)})"
    if isinstance(tree, Not):
        return f"not ({render_filter(entity, tree.operand)})"
    name = tree.field
    if "." in name:
        path = _navigations(entity, name)
        texts = [
            to_odata(dataclasses.replace(tree, field=f"{nav}/{path.column}"))
            for nav in path.navigations
        ]
        return texts[0] if len(texts) == 1 else "(" + " or ".join(texts) + ")"
    field = entity.by_name.get(name)
    if field is not None and field.type in (FieldType.LOOKUP, FieldType.GUID):
        column = f"_{name}_value" if field.type is FieldType.LOOKUP else name
        if isinstance(tree, Compare) and _is_guid(tree.value):
            return f"{column} {tree.op} {tree.value}"
        return to_odata(dataclasses.replace(tree, field=column))
    return to_odata(tree)


class _Query:
    """A read request as Web API query options, and the conversion of what it answers."""

    def __init__(self, request: ReadRequest) -> None:
        self.entity = entity = SALES.entity(request.entity)
        columns = list(dict.fromkeys(request.columns))
        self.paths = [_navigations(entity, p) for p in dict.fromkeys(request.lookups)]
        select: list[str] = []
        self.lookups: list[str] = []
        self.money: list[str] = []
        for name in columns:
            field = entity.by_name.get(name)
            if field is not None and field.type is FieldType.LOOKUP:
                select.append(f"_{name}_value")
                self.lookups.append(name)
            else:
                select.append(name)
                if field is not None and field.type is FieldType.MONEY:
                    self.money.append(name)
        self.plain = [c for c in columns if c not in self.lookups]
        order = request.order_by or entity.key
        self.params = {"$select": ",".join(select), "$orderby": ",".join(order)}
        expand: dict[str, list[str]] = {}
        for path in self.paths:
            for nav in path.navigations:
                expand.setdefault(nav, [])
                if path.column not in expand[nav]:
                    expand[nav].append(path.column)
        if expand:
            self.params["$expand"] = ",".join(
                f"{nav}($select={','.join(cols)})" for nav, cols in expand.items()
            )
        if request.filter is not None:
            self.params["$filter"] = render_filter(entity, request.filter)

    def convert(self, raw: dict[str, Any]) -> Record:
        record = {name: raw.get(name) for name in self.plain}
        for name in self.lookups:
            record[name] = raw.get(f"_{name}_value")
        for name in self.money:
            value = record[name]
            if isinstance(value, int) and not isinstance(value, bool):
                record[name] = float(value)
        for path in self.paths:
            value = None
            for nav in path.navigations:
                target = raw.get(nav)
                if isinstance(target, dict) and target.get(path.column) is not None:
                    value = target[path.column]
                    break
            record[path.name] = value
        return record


class DataverseSource(Source):
    """Reads Sales through the Web API."""

    def __init__(self, session: ApiSession) -> None:
        self.session = session

    def record_key(self, entity: str) -> tuple[str, ...]:
        return SALES.entity(entity).key

    def watermark(self, entity: str) -> str | None:
        return "modifiedon" if "modifiedon" in SALES.entity(entity).by_name else None

    def read(self, request: ReadRequest) -> Iterator[list[Record]]:
        query = _Query(request)
        page_size = min(request.page_size, self.session.connection.page_size)
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        yield from read_pages(
            self.session, query.entity.entity_set, query.params, headers, query.convert
        )

    def last(self, request: ReadRequest) -> Record | None:
        """One request: the order reversed, ``$top=1``."""
        query = _Query(request)
        order = request.order_by or query.entity.key
        params = query.params | {"$orderby": ",".join(f"{c} desc" for c in order), "$top": "1"}
        body = self.session.get_json(query.entity.entity_set, params=params)
        found = body.get("value") or []
        return query.convert(found[0]) if found else None

    def changes(self, entity: str, token: str | None) -> Changes | None:
        """Dataverse change tracking: ``token`` is the delta link of the last read. Without
        one, the ids of the table are read once with ``Prefer: odata.track-changes`` to get
        the first delta link. None when the table does not track changes."""
        meta = SALES.entity(entity)
        key = meta.key[0]
        page_size = self.session.connection.page_size
        headers = {"Prefer": f"odata.track-changes, odata.maxpagesize={page_size}"}
        link = token or with_query(meta.entity_set, {"$select": key})
        keys: list[tuple[Any, ...]] = []
        while True:
            answer = self.session.send(Call("GET", link, headers=headers))
            if not answer.ok or not isinstance(answer.body, dict):
                if token is None and answer.status == 400:
                    return None  # change tracking is not enabled on the table
                raise self.session.failure(answer, f"reading the changes of {meta.entity_set}")
            body = answer.body
            if token is not None:
                # Deleted records come as "@removed" entries: p2c never deletes in F&O.
                keys.extend((v[key],) for v in body.get("value") or [] if key in v)
            link = body.get("@odata.nextLink") or ""
            if link:
                continue
            delta = body.get("@odata.deltaLink")
            return Changes(keys, delta) if isinstance(delta, str) else None

    def close(self) -> None:
        self.session.close()


class DataverseDestination(HttpDestination):
    """Writes Sales records by their id or an alternate key (``PATCH contacts(msdynce_
    contactnumber='CON-…')``): the Web API's upsert. Used by the upgrade script."""

    def entity_set(self, entity: str) -> str:
        return SALES.entity(entity).entity_set

    def render_filter(self, entity: str, tree: Filter) -> str:
        return render_filter(SALES.entity(entity), tree)

    def _segment(self, entity: str, names: Sequence[str], key: Key) -> str:
        meta = SALES.entity(entity)
        if tuple(names) == meta.key:
            return meta.entity_set + key_segment(names, key, guid=True)
        if tuple(sorted(names)) not in {tuple(sorted(k)) for k in meta.alternate_keys.values()}:
            raise ConfigError(
                f"{meta.name} has no key on {', '.join(names)}.",
                fix=f"write by {meta.key[0]} or an alternate key: "
                + ", ".join("+".join(k) for k in meta.alternate_keys.values()),
            )
        return meta.entity_set + key_segment(names, key)

    def create_call(self, entity: str, names: Sequence[str], key: Key, record: Record) -> Call:
        body = {k: v for k, v in record.items() if k not in names}
        # Upsert: the key values in the URL win; If-None-Match makes it create-only, so a
        # record created meanwhile by someone else is not overwritten blindly.
        return Call("PATCH", self._segment(entity, names, key), body, {"If-None-Match": "*"})

    def update_call(self, entity: str, names: Sequence[str], key: Key, changes: Record) -> Call:
        return Call("PATCH", self._segment(entity, names, key), changes, {"If-Match": "*"})


class DataverseType(HttpConnectionType[DataverseConnection]):
    """``type: dataverse``: Dynamics 365 Sales through the Web API."""

    name = "dataverse"
    config = DataverseConnection
    systems = ("sales",)
    writes = ("sales",)
    # One contact, not WhoAmI: it proves the sign-in and that the application user's
    # roles let it read contacts.
    probes = {"sales": "contacts?$select=contactid&$top=1"}

    def session(self, connection: DataverseConnection, root: Path, label: str) -> ApiSession:
        return ApiSession(connection, root, label, connection.environment_url + API_PATH)

    def source(
        self, connection: DataverseConnection, system: System, root: Path, label: str
    ) -> Source:
        return DataverseSource(self.session(connection, root, label))

    def destination(
        self, connection: DataverseConnection, system: System, root: Path, label: str
    ) -> Destination:
        return DataverseDestination(self.session(connection, root, label))

    def upgrade_sales(
        self, connection: DataverseConnection, root: Path, label: str
    ) -> UpgradeReport:
        session = self.session(connection, root, label)
        try:
            return upgrade_through_web_api(session)
        finally:
            session.close()


DATAVERSE = DataverseType()
