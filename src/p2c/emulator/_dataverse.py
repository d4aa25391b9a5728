"""The Dataverse Web API face of the sandbox Sales (``{base}/sales/api/data/v9.2/``).

Reads go through the sandbox's query (filters and lookups pushed down into SQL), writes
through :class:`~p2c.sandbox.SalesSandbox`, so the Prospect-to-cash plug-in rules apply to
a record written over HTTP exactly as in-process.
"""

from __future__ import annotations

__all__ = ["DataverseFace"]

import uuid
from collections.abc import Sequence
from typing import Any

from p2c._errors import ConfigError, InputError, NotFoundError, P2CError
from p2c.dynamics import SALES, SALES_ENTITIES, Entity
from p2c.emulator import _dataverse_query as query
from p2c.emulator import _dataverse_writes as writes
from p2c.emulator._annotations import apply_preference
from p2c.emulator._apply import apply_reply
from p2c.emulator._batch import BatchRunner, Face
from p2c.emulator._dataverse_query import no_property
from p2c.emulator._definitions_api import (
    CUSTOMIZATIONS,
    DEFINITION_SETS,
    definitions_reply,
    metadata_changes_reply,
)
from p2c.emulator._delta import TRACKING, delta_link, delta_reply, start_token
from p2c.emulator._entity_definitions import Definitions
from p2c.emulator._fetchxml import fetch_reply
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._metadata import dataverse_csdl
from p2c.emulator._options import (
    page_size,
    parse_key,
    parse_resource,
    refuse_unknown_options,
)
from p2c.emulator._paging import follow, read_rows, window
from p2c.emulator._pool import SystemPool
from p2c.emulator._query_functions import check_options
from p2c.emulator._settings import EmulatorSettings
from p2c.emulator._solutions import solutions_reply
from p2c.emulator._sql import sql_reply
from p2c.emulator._startup import FUNCTIONS, MESSAGE_SETS, function_reply, messages_reply
from p2c.odata import Compare, Filter, Logical
from p2c.sandbox import SalesSandbox, count

_BY_SET = {e.entity_set: e for e in SALES_ENTITIES}
_SETS = {e.name: e.entity_set for e in SALES_ENTITIES}
_P2C_TABLE = "msdynce_p2cautonumber"
_COUNT_LIMIT = 5000
Record = dict[str, Any]


class DataverseFace(Face):
    """Answers Web API requests from the sandbox Sales.

    Args:
        pool: The sandbox Sales per worker thread.
        settings: Emulator settings (page sizes, batch limits).
        root_path: Path of the API root, ending with ``/``.
    """

    name = "sales"
    code = "0x80060888"
    pool: SystemPool[SalesSandbox]

    def __init__(
        self, pool: SystemPool[SalesSandbox], settings: EmulatorSettings, root_path: str
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.root_path = root_path
        self.batches = BatchRunner(
            root_path, self.execute, self.render, self._change_set, settings.batch_max_operations
        )

    # entry points ----------------------------------------------------------------------------

    def execute(self, call: Call) -> Reply:
        try:
            refuse_unknown_options(call, dataverse=True)
            return self._route(call)
        except ApiError as error:
            return self.render(error)
        except P2CError as error:
            return self.render(_sandbox_error(error))

    def render(self, error: ApiError) -> Reply:
        return json_reply(
            error.status,
            {"error": {"code": error.code or "0x0", "message": error.message}},
            error.headers,
        )

    # routing ---------------------------------------------------------------------------------

    def _route(self, call: Call) -> Reply:
        path = call.path.rstrip("/")
        if path == "":
            return self._service_document(call)
        if path == "$metadata":
            return self._metadata()
        if path in ("WhoAmI", "WhoAmI()"):
            return self._who_am_i(call)
        if path in CUSTOMIZATIONS or path.split("(", 1)[0].split("/", 1)[0] in DEFINITION_SETS:
            return definitions_reply(call, self._definitions())
        if path.startswith("RetrieveMetadataChanges("):
            return metadata_changes_reply(call, self._definitions())
        if path == "BulkDelete":
            return writes.bulk_delete(self, call)
        if path.removesuffix("()") in FUNCTIONS:
            return function_reply(call, path.removesuffix("()"))
        if path in MESSAGE_SETS:
            return messages_reply(call, path, self._served())
        resource = parse_resource(path)
        if resource.name == "solutions" and resource.key is None and resource.tail is None:
            self._only(call, "GET")
            return solutions_reply(call, self.pool.get().installed_solutions)
        entity = self._entity(resource.name)
        if resource.key is None:
            if resource.tail == "$count":
                self._only(call, "GET")
                return self._count(call, entity)
            if resource.tail in writes.MULTIPLE:
                return writes.multiple(self, call, entity, writes.MULTIPLE[resource.tail])
            if resource.tail is not None:
                raise ApiError(
                    404, f"Resource not found for the segment '{resource.tail}'.", "0x8006088a"
                )
            if call.method == "GET":
                return self._list(call, entity)
            if call.method == "POST":
                return self._create(call, entity)
            raise ApiError(
                405, f"The method {call.method} is not allowed on a collection.", "0x80060888"
            )
        if resource.tail is not None:
            raise ApiError(
                404, f"Resource not found for the segment '{resource.tail}'.", "0x8006088a"
            )
        key = parse_key(resource.key)
        if call.method == "GET":
            return self._retrieve(call, entity, key)
        if call.method == "PATCH":
            return self._upsert(call, entity, key)
        if call.method == "DELETE":
            return writes.delete(self, call, entity, key)
        raise ApiError(
            405, f"The method {call.method} is not supported by the emulator.", "0x80060888"
        )

    def _only(self, call: Call, method: str) -> None:
        if call.method != method:
            raise ApiError(405, f"The method {call.method} is not allowed here.", "0x80060888")

    def _entity(self, entity_set: str) -> Entity:
        entity = _BY_SET.get(entity_set)
        if entity is None or (entity.name == _P2C_TABLE and not self.pool.get().solution.installed):
            raise ApiError(404, f"Resource not found for the segment '{entity_set}'.", "0x8006088a")
        return entity

    def _visible(self, entity: Entity) -> set[str]:
        return self.pool.get().visible_columns(entity)

    def _definitions(self) -> Definitions:
        sales = self.pool.get()
        return Definitions(self._served(), self._visible, sales.changes.enabled)

    def _served(self) -> list[Entity]:
        installed = self.pool.get().solution.installed
        return [e for e in SALES_ENTITIES if e.name != _P2C_TABLE or installed]

    # reading ---------------------------------------------------------------------------------

    def _service_document(self, call: Call) -> Reply:
        names = [e.entity_set for e in self._served()] + ["solutions"]
        return json_reply(
            200,
            {
                "@odata.context": f"{call.root}$metadata",
                "value": [{"name": n, "kind": "EntitySet", "url": n} for n in names],
            },
        )

    def _metadata(self) -> Reply:
        entities = [(e, self._visible(e)) for e in self._served()]
        xml = dataverse_csdl(entities, _SETS)
        return Reply(200, {"Content-Type": "application/xml", "OData-Version": "4.0"}, xml.encode())

    def _who_am_i(self, call: Call) -> Reply:
        sales = self.pool.get()
        unit = sales.root_business_unit()["businessunitid"]
        return json_reply(
            200,
            {
                "@odata.context": f"{call.root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": unit,
                "UserId": str(uuid.uuid5(uuid.NAMESPACE_URL, call.root + "application-user")),
                "OrganizationId": str(uuid.uuid5(uuid.NAMESPACE_URL, str(sales.store.path))),
            },
        )

    def _list(self, call: Call, entity: Entity) -> Reply:
        if "fetchXml" in call.query:
            return fetch_reply(self, call, entity)
        if "$apply" in call.query:
            return apply_reply(self, call, entity)
        if "sql" in call.query:
            return sql_reply(self, call, entity)
        columns, shape, context = query.plan(call, entity, self._visible)
        if "$deltatoken" in call.query:
            return delta_reply(
                call,
                self.pool.get(),
                entity,
                lambda where: [shape(r) for r in self._select(entity, columns, where)],
            )
        tracked = call.prefers(TRACKING) is not None
        token = start_token(call, self.pool.get(), entity) if tracked else None
        where = query.where(call, entity, self._visible)
        order = query.order(call, entity, self._visible)
        win = window(call, self.settings.page_size_max, order=order, allow_skip=False)
        sales = self.pool.get()
        rows = self._select(
            entity, columns, where, order, after=win.after, offset=win.offset, limit=win.limit + 1
        )
        rows, link = follow(call, win, rows, entity.key, order)
        payload: Record = {"@odata.context": f"{call.root}$metadata#{entity.entity_set}({context})"}
        headers: dict[str, str] = {}
        if call.prefers("odata.maxpagesize"):
            size = page_size(call, self.settings.page_size_max)
            headers["Preference-Applied"] = f"odata.maxpagesize={size}"
        if call.query.get("$count") == "true":
            total = count(
                sales.store,
                entity,
                where=where,
                visible=self._visible(entity),
                resolve=SALES.entity,
                fold_case=True,
            )
            payload["@odata.count"] = min(total, _COUNT_LIMIT)
            payload["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > _COUNT_LIMIT
        payload["value"] = [shape(r) for r in rows]
        if link:
            payload["@odata.nextLink"] = link
        elif token is not None:
            payload["@odata.deltaLink"] = delta_link(call, token)
        if token is not None:
            headers["Preference-Applied"] = ", ".join(
                [*filter(None, [headers.get("Preference-Applied")]), TRACKING]
            )
        return json_reply(200, payload, apply_preference(call.headers, headers))

    def _select(
        self,
        entity: Entity,
        columns: list[str],
        where: Filter | None,
        order: Sequence[tuple[str, bool]] = (),
        **bounds: Any,
    ) -> list[Record]:
        return read_rows(
            self.pool.get().store,
            entity,
            columns,
            where,
            visible=self._visible(entity),
            resolve=SALES.entity,
            error_code="0x80060888",
            order=order,
            fold_case=True,
            **bounds,
        )

    def _count(self, call: Call, entity: Entity) -> Reply:
        check_options(call, {"$filter"})
        sales = self.pool.get()
        total = count(
            sales.store,
            entity,
            where=query.where(call, entity, self._visible),
            visible=self._visible(entity),
            resolve=SALES.entity,
            fold_case=True,
        )
        return Reply(
            200,
            {"Content-Type": "text/plain; charset=utf-8", "OData-Version": "4.0"},
            str(min(total, _COUNT_LIMIT)).encode(),
        )

    def _key_filter(self, entity: Entity, key: Any) -> Filter:
        if isinstance(key, dict):
            self._alternate_key(entity, key)
            parts = [Compare("eq", name, value) for name, value in key.items()]
            tree: Filter = parts[0]
            for part in parts[1:]:
                tree = Logical("and", tree, part)
            return tree
        return Compare("eq", entity.key[0], _guid(key))

    def _retrieve(self, call: Call, entity: Entity, key: Any) -> Reply:
        check_options(call, {"$select", "$expand"})
        columns, shape, context = query.plan(call, entity, self._visible)
        rows = self._select(entity, columns, self._key_filter(entity, key), limit=1)
        if not rows:
            raise _missing(entity, key)
        record = {"@odata.context": f"{call.root}$metadata#{entity.entity_set}({context})/$entity"}
        record.update(shape(rows[0]))
        tag = record["@odata.etag"]
        if tag in _tags(call.headers.get("if-none-match", "")):
            # Retrieve a record only if it changed: 304 while the client's version is current.
            return Reply(304, {"OData-Version": "4.0", "ETag": tag})
        return json_reply(200, record, apply_preference(call.headers, {"ETag": tag}))

    def _alternate_key(self, entity: Entity, key: dict[str, Any]) -> None:
        names = sorted(key)
        if names not in [sorted(k) for k in entity.alternate_keys.values()]:
            raise ApiError(
                400,
                f"The key specified with columns {', '.join(names)} is not an alternate key of "
                f"'{entity.name}'; its keys: "
                + ("; ".join(", ".join(k) for k in entity.alternate_keys.values()) or "none")
                + ".",
                "0x80060888",
            )
        if not set(names) <= self._visible(entity):
            raise no_property(entity, next(n for n in names if n not in self._visible(entity)))

    # writing ---------------------------------------------------------------------------------

    def _body(self, call: Call, entity: Entity) -> dict[str, Any]:
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.", "0x80048d19")
        visible = self._visible(entity)
        for name in body:
            if "@" not in name and name not in visible:
                raise ApiError(
                    400,
                    f"Error identified in Payload provided by the user for Entity :"
                    f"'{entity.entity_set}', ----> InnerException : "
                    f"Microsoft.OData.ODataException: The property '{name}' does not exist on "
                    f"type 'Microsoft.Dynamics.CRM.{entity.name}'. Make sure to only use "
                    "property names that are defined by the type or mark the type as open type.",
                    "0x80048d19",
                )
        return body

    def _create(self, call: Call, entity: Entity) -> Reply:
        body = self._body(call, entity)
        sales = self.pool.get()
        with self.pool.write_lock:
            record_id = sales.create(entity.entity_set, [body])[0]
        return self._written(call, entity, record_id, created=True)

    def _upsert(self, call: Call, entity: Entity, key: Any) -> Reply:
        body = self._body(call, entity)
        if isinstance(key, dict):
            self._alternate_key(entity, key)
            body.update(key)  # the key in the URL wins over the body
        else:
            key = _guid(key)
            body.pop(entity.key[0], None)
        update_only = call.headers.get("if-match", "").strip() != ""
        create_only = call.headers.get("if-none-match", "").strip() == "*"
        sales = self.pool.get()
        with self.pool.write_lock:
            record_id = sales.find(entity.entity_set, key)
            if record_id is not None:
                if create_only:
                    raise ApiError(
                        412, "A record with matching key values already exists.", "0x80060892"
                    )
                writes.check_etag(self, call, entity, record_id)
                sales.update(entity.entity_set, record_id, body)
                created = False
            else:
                if update_only:
                    raise _missing(entity, key)
                if not isinstance(key, dict):
                    body[entity.key[0]] = key
                record_id = sales.create(entity.entity_set, [body])[0]
                created = True
        return self._written(call, entity, record_id, created=created)

    def _written(self, call: Call, entity: Entity, record_id: str, *, created: bool) -> Reply:
        location = f"{call.root}{entity.entity_set}({record_id})"
        headers = {"OData-EntityId": location}
        if call.prefers("return") != "representation":
            return Reply(204, {"OData-Version": "4.0", **headers})
        columns, shape, _context = query.plan(call, entity, self._visible)
        rows = self._select(entity, columns, Compare("eq", entity.key[0], record_id), limit=1)
        record = {"@odata.context": f"{call.root}$metadata#{entity.entity_set}/$entity"}
        record.update(shape(rows[0]))
        return json_reply(
            201 if created else 200,
            record,
            {**headers, "Preference-Applied": "return=representation"},
        )

    # for the writes ----------------------------------------------------------------------------

    def select_rows(
        self, entity: Entity, columns: list[str], where: Filter | None, **bounds: Any
    ) -> list[Record]:
        return self._select(entity, columns, where, **bounds)

    def where_of(self, entity: Entity, text: str | None) -> Filter | None:
        """A ``$filter`` text as the filter tree of a read."""
        if not text:
            return None
        return query.where(Call("GET", "", {"$filter": text}, {}, b"", ""), entity, self._visible)

    def check_alternate_key(self, entity: Entity, key: dict[str, Any]) -> None:
        self._alternate_key(entity, key)

    def guid(self, text: Any) -> str:
        return _guid(text)

    def missing(self, entity: Entity, key: Any) -> ApiError:
        return _missing(entity, key)

    def served(self) -> list[Entity]:
        return self._served()


# helpers ---------------------------------------------------------------------------------------


def _guid(text: Any) -> str:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        raise ApiError(
            400, f"Bad key value '{text}': expected a GUID or an alternate key.", "0x80060888"
        ) from None


def _tags(header: str) -> set[str]:
    """The entity tags an ``If-None-Match`` header names."""
    return {t.strip() for t in header.split(",") if t.strip()}


def _missing(entity: Entity, key: Any) -> ApiError:
    if isinstance(key, dict):
        return ApiError(
            404,
            f"A record with the specified key values does not exist in {entity.name} entity",
            "0x80040217",
        )
    return ApiError(404, f"{entity.name} With Id = {key} Does Not Exist", "0x80040217")


def _sandbox_error(error: P2CError) -> ApiError:
    """The Web API status and code of a sandbox refusal."""
    if isinstance(error, NotFoundError):
        return ApiError(404, error.message, "0x80040217")
    if isinstance(error, ConfigError):
        return ApiError(400, error.message, "0x80060888")
    problems = error.problems if isinstance(error, InputError) and error.problems else [error]
    message = "; ".join(
        f"{p.field}: {p.message}" if p.field and p.field not in p.message else p.message
        for p in problems
    )
    texts = [p.message for p in problems]
    if any("Does Not Exist" in t or t.startswith("No ") for t in texts):
        return ApiError(404, message, "0x80040217")
    if any(t.startswith("A record that has the attribute values") for t in texts):
        return ApiError(412, message, "0x80060892")
    if any(t.startswith("A record with id") for t in texts):
        return ApiError(412, f"Cannot insert duplicate key. {message}", "0x80040237")
    return ApiError(400, message, "0x80040203")
