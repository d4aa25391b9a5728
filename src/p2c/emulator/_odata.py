"""The F&O OData face of the sandbox F&O (``{base}/finops/data/``), also used for the CDS hub
(``{base}/cds/data/``; CDS 1.0 is retired, so the hub is served in the F&O shape).

Writes go through the sandbox's keyed upsert, so F&O rejects over HTTP what it rejects
in-process, and the rejection is the innermost message of F&O's error body.
"""

from __future__ import annotations

__all__ = ["KeyedFace"]

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from p2c._errors import ConfigError, P2CError
from p2c.dynamics import Entity, FieldType
from p2c.emulator._batch import BatchRunner, Face
from p2c.emulator._dmf import DataManagementService
from p2c.emulator._finops_metadata import ACTIONS, action_reply, metadata_service_reply, row_etag
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._metadata import keyed_csdl
from p2c.emulator._options import (
    ENUM_VALUE,
    map_filter,
    parse_filter_text,
    parse_key,
    parse_orderby,
    parse_resource,
    parse_select,
    refuse_unknown_options,
)
from p2c.emulator._paging import follow, read_rows, window
from p2c.emulator._pool import SystemPool
from p2c.emulator._settings import EmulatorSettings
from p2c.emulator._writes import stale, write_group
from p2c.odata import Compare, Filter, Logical
from p2c.sandbox import KeyedSystem, count

_AREA = "dataAreaId"
_WRITE_ERROR = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"
_NAMESPACE = "Microsoft.Dynamics.DataEntities"
Record = dict[str, Any]


class KeyedFace(Face):
    """Answers OData requests from a keyed sandbox system (F&O or the CDS hub).

    Args:
        name: Service name (``finops`` or ``cds``).
        pool: The system per worker thread.
        settings: Emulator settings (page size, default company).
        root_path: Path of the OData root, ending with ``/``.
    """

    def __init__(
        self,
        name: str,
        pool: SystemPool[KeyedSystem],
        settings: EmulatorSettings,
        root_path: str,
        entities: Sequence[Entity],
    ) -> None:
        self.name = name
        self.pool = pool
        self.settings = settings
        self.root_path = root_path
        self.entities = {e.entity_set: e for e in entities}
        self._csdl = keyed_csdl(entities).encode()
        self.batches = BatchRunner(
            root_path, self.execute, self.render, self._change_set, None, self.group
        )
        # F&O's Data management package API, where the service has one (``_dmf.py``).
        self.packages: DataManagementService | None = None

    # entry points ----------------------------------------------------------------------------

    def execute(self, call: Call) -> Reply:
        try:
            refuse_unknown_options(call, dataverse=False)
            return self._route(call)
        except ApiError as error:
            return self.render(error)
        except ConfigError as error:
            return self.render(ApiError(400, error.message))
        except P2CError as error:
            return self.render(write_error(None, error.message))

    def render(self, error: ApiError) -> Reply:
        payload: Record = {"code": error.code, "message": error.message}
        if error.inner is not None:
            payload["innererror"] = error.inner
        return json_reply(error.status, {"error": payload}, error.headers)

    # routing ---------------------------------------------------------------------------------

    def _route(self, call: Call) -> Reply:
        path = call.path.rstrip("/")
        if call.root.endswith("/Metadata/"):
            return metadata_service_reply(call, list(self.entities.values()))
        if path in ACTIONS:
            return action_reply(call, path, list(self.entities.values()))
        if self.packages is not None and (answer := self.packages.route(call, path)):
            return answer
        if path == "":
            return json_reply(
                200,
                {
                    "@odata.context": f"{call.root}$metadata",
                    "value": [{"name": n, "kind": "EntitySet", "url": n} for n in self.entities],
                },
            )
        if path == "$metadata":
            return Reply(
                200, {"Content-Type": "application/xml", "OData-Version": "4.0"}, self._csdl
            )
        resource = parse_resource(path)
        entity = self.entities.get(resource.name)
        if entity is None:
            raise ApiError(404, f"Resource not found for the segment '{resource.name}'.")
        if resource.key is None:
            if resource.tail == "$count" and call.method == "GET":
                return self._count(call, entity)
            if resource.tail is not None:
                raise ApiError(404, f"Resource not found for the segment '{resource.tail}'.")
            if call.method == "GET":
                return self._list(call, entity)
            if call.method == "POST":
                return self._write(call)
            raise ApiError(405, f"The HTTP verb {call.method} is not allowed on a collection.")
        if resource.tail is not None:
            raise ApiError(404, f"Resource not found for the segment '{resource.tail}'.")
        key = self.key(call, entity, resource.key)
        if call.method == "GET":
            row = self._find(entity, key)
            if row is None:
                raise _not_found(entity)
            return json_reply(
                200,
                {
                    "@odata.context": f"{call.root}$metadata#{entity.entity_set}/$entity",
                    "@odata.etag": row_etag(entity, row),
                    **self._shape(entity, row, parse_select(call.query.get("$select"))),
                },
            )
        if call.method == "PATCH":
            return self._write(call)
        if call.method == "DELETE":
            return self._delete(call, entity, key)
        raise ApiError(405, f"The HTTP verb {call.method} is not supported by the emulator.")

    def _cross_company(self, call: Call) -> bool:
        return call.query.get("cross-company", "").lower() == "true"

    def key(self, call: Call, entity: Entity, text: str) -> dict[str, Any]:
        """The entity key in a URL, every field given; dataAreaId in lower case."""
        parsed = parse_key(text)
        key = parsed if isinstance(parsed, dict) else {entity.key[0]: parsed}
        if sorted(key) != sorted(entity.key):
            raise ApiError(
                400,
                f"The key of {entity.entity_set} is {', '.join(entity.key)}; all fields in the "
                "entity key must be provided.",
            )
        if _AREA in key:
            key[_AREA] = str(key[_AREA]).lower()
            if not self._cross_company(call) and key[_AREA] != self.settings.default_company:
                # Without cross-company=true, F&O sees only the user's company.
                raise _not_found(entity)
        return key

    # reading ---------------------------------------------------------------------------------

    def _rows(
        self,
        entity: Entity,
        columns: list[str],
        where: Filter | None,
        order: Sequence[tuple[str, bool]] = (),
        **bounds: Any,
    ) -> list[Record]:
        system = self.pool.get()
        return read_rows(
            system.store,
            entity,
            columns,
            where,
            visible=set(entity.by_name),
            resolve=system.entity,
            error_code="",
            order=order,
            **bounds,
        )

    def _find(self, entity: Entity, key: dict[str, Any]) -> Record | None:
        """The record with this key; F&O compares keys case-insensitively, so a key that
        differs from the stored one in case only finds it too."""
        names = [f.name for f in entity.fields]
        rows = self._rows(entity, names, _equals(key), limit=1)
        if not rows:
            rows = self._rows(entity, names, _equals(key), limit=1, fold_case=True)
        return rows[0] if rows else None

    def _delete(self, call: Call, entity: Entity, key: dict[str, Any]) -> Reply:
        """``DELETE CustomersV2(dataAreaId='usmf',CustomerAccount='C-1')``: 204, or 404."""
        system = self.pool.get()
        with self.pool.write_lock, system.store.transaction():
            row = self._find(entity, key)
            if row is None:
                raise _not_found(entity)
            wanted = call.headers.get("if-match", "").strip()
            if wanted not in ("", "*") and row_etag(entity, row) not in {
                t.strip() for t in wanted.split(",")
            }:
                raise stale()
            system.delete(entity.entity_set, {k: row[k] for k in entity.key})
        return Reply(204, {"OData-Version": "4.0"})

    def _where(self, call: Call, entity: Entity) -> Filter | None:
        tree: Filter | None = None
        text = call.query.get("$filter")
        if text:

            def rename(name: str, value: Any) -> tuple[str, Any]:
                if name not in entity.by_name:
                    raise _no_property(entity, name)
                if name == _AREA and isinstance(value, str):
                    value = value.lower()
                return name, value

            tree = map_filter(parse_filter_text(text), rename)
        if _AREA in entity.by_name and not self._cross_company(call):
            scope = Compare("eq", _AREA, self.settings.default_company)
            tree = scope if tree is None else Logical("and", scope, tree)
        return tree

    def _selected(self, call: Call, entity: Entity) -> list[str]:
        selected = parse_select(call.query.get("$select"))
        if selected is None:
            return [f.name for f in entity.fields]
        for name in selected:
            if name not in entity.by_name:
                raise _no_property(entity, name)
        return selected

    def _list(self, call: Call, entity: Entity) -> Reply:
        selected = self._selected(call, entity)
        where = self._where(call, entity)
        order = []
        for name, desc in parse_orderby(call.query.get("$orderby")):
            if name not in entity.by_name:
                raise _no_property(entity, name)
            order.append((name, desc))
        win = window(call, self.settings.finops_page_size_max, order=order, allow_skip=True)
        columns = list(dict.fromkeys([*entity.key, *(f.name for f in entity.fields)]))
        rows = self._rows(
            entity, columns, where, order, after=win.after, offset=win.offset, limit=win.limit + 1
        )
        rows, link = follow(call, win, rows, entity.key, order)
        payload: Record = {"@odata.context": f"{call.root}$metadata#{entity.entity_set}"}
        if call.query.get("$count") == "true":
            payload["@odata.count"] = self._total(entity, where)
        payload["value"] = [
            {"@odata.etag": row_etag(entity, r), **{n: r[n] for n in selected}} for r in rows
        ]
        if link:
            payload["@odata.nextLink"] = link
        return json_reply(200, payload)

    def _total(self, entity: Entity, where: Filter | None) -> int:
        system = self.pool.get()
        return count(
            system.store, entity, where=where, visible=set(entity.by_name), resolve=system.entity
        )

    def _count(self, call: Call, entity: Entity) -> Reply:
        total = self._total(entity, self._where(call, entity))
        return Reply(
            200, {"Content-Type": "text/plain", "OData-Version": "4.0"}, str(total).encode()
        )

    def _shape(self, entity: Entity, row: Record, selected: list[str] | None) -> Record:
        names = selected or [f.name for f in entity.fields]
        for name in names:
            if name not in entity.by_name:
                raise _no_property(entity, name)
        return {n: entity.by_name[n].present(row[n]) for n in names}

    # writing ---------------------------------------------------------------------------------

    def body(self, call: Call, entity: Entity) -> Record:
        """A write's body as a record; F&O enum literals become their symbol."""
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        record: Record = {}
        for name, value in body.items():
            if "@" in name:
                continue  # annotations such as @odata.type carry no data
            f = entity.by_name.get(name)
            if f is None:
                raise ApiError(
                    400,
                    f"The property '{name}' does not exist on type '{_NAMESPACE}.{entity.name}'. "
                    "Make sure to only use property names that are defined by the type.",
                )
            if isinstance(value, dict | list):  # F&O entities are flat: no deep insert
                kind = "an object" if isinstance(value, dict) else "an array"
                raise ApiError(400, f"The property '{name}' takes a single value, not {kind}.")
            if f.type in (FieldType.ENUM, FieldType.NOYES) and isinstance(value, str):
                spelled = ENUM_VALUE.match(value)
                if spelled:
                    value = spelled["value"]
            record[name] = value
        return record

    def _write(self, call: Call) -> Reply:
        replies = write_group(self, [call])
        assert replies is not None and len(replies) == 1
        return replies[0]

    def group(self, calls: list[Call]) -> list[Reply] | None:
        """Independent writes of a batch, run as one keyed upsert (see ``_writes``)."""
        try:
            return write_group(self, calls)
        except P2CError:
            return None  # refused as a whole (an entity without rules): each answers alone

    # for the writes ----------------------------------------------------------------------------

    def not_found(self, entity: Entity) -> ApiError:
        return _not_found(entity)

    def write_error(self, entity: Entity, message: str) -> ApiError:
        return write_error(entity, message)

    def key_segment(self, key: dict[str, Any]) -> str:
        return _key_segment(key)


def _equals(key: dict[str, Any]) -> Filter:
    parts = [Compare("eq", name, value) for name, value in key.items()]
    tree: Filter = parts[0]
    for part in parts[1:]:
        tree = Logical("and", tree, part)
    return tree


def _key_segment(key: dict[str, Any]) -> str:
    return ",".join(
        f"{k}='{quote(str(v).replace(chr(39), chr(39) * 2), safe='')}'" for k, v in key.items()
    )


def _no_property(entity: Entity, name: str) -> ApiError:
    return ApiError(
        400, f"Could not find a property named '{name}' on type '{_NAMESPACE}.{entity.name}'."
    )


def _not_found(entity: Entity) -> ApiError:
    return ApiError(404, f"Resource not found for the segment '{entity.entity_set}'.")


def write_error(entity: Entity | None, message: str) -> ApiError:
    table = f"{entity.name}Entity" if entity is not None else "the entity"
    return ApiError(
        400,
        "An error has occurred.",
        inner={
            "message": f"Write failed for table row of type '{table}'. Infolog: Error: {message}",
            "type": _WRITE_ERROR,
            "stacktrace": "",
        },
    )
