"""Writes of the Dataverse face beyond create and upsert: DELETE by id or alternate key,
optimistic concurrency (``If-Match`` with an ETag), the bulk operation messages
``CreateMultiple``, ``UpdateMultiple`` and ``UpsertMultiple``, and ``BulkDelete``.

The bulk messages have the semantics of standard tables: the items run in one transaction
through the same sandbox rules as single writes (the Prospect-to-cash plug-in runs for each
item), and one bad item fails the request, named by its position in ``Targets``.
"""

from __future__ import annotations

__all__ = ["MULTIPLE", "bulk_delete", "check_etag", "delete", "multiple"]

import uuid
from typing import TYPE_CHECKING, Any

from p2c._errors import InputError, NotFoundError, P2CError
from p2c.dynamics import SALES, Entity
from p2c.emulator._annotations import VERSION, etag
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import ParsedKey, parse_key, parse_resource
from p2c.odata import Compare

if TYPE_CHECKING:
    from p2c.emulator._dataverse import DataverseFace

MULTIPLE = {
    f"Microsoft.Dynamics.CRM.{name}": name
    for name in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
}
_STALE = "0x80060882"
Record = dict[str, Any]


def current_etag(face: DataverseFace, entity: Entity, record_id: str) -> str | None:
    """The ETag of a stored record, or None when there is none."""
    rows = face.select_rows(entity, [VERSION], Compare("eq", entity.key[0], record_id), limit=1)
    return etag(rows[0]) if rows else None


def check_etag(face: DataverseFace, call: Call, entity: Entity, record_id: str) -> None:
    """412 when ``If-Match`` names an ETag the record no longer has."""
    wanted = call.headers.get("if-match", "").strip()
    if wanted in ("", "*"):
        return
    if current_etag(face, entity, record_id) not in {t.strip() for t in wanted.split(",")}:
        raise ApiError(
            412,
            "The version of the existing record doesn't match the RowVersion property provided.",
            _STALE,
        )


def delete(face: DataverseFace, call: Call, entity: Entity, key: ParsedKey) -> Reply:
    """``DELETE contacts(<id>)`` or by alternate key: 204, 404 when there is no such record."""
    sales = face.pool.get()
    if isinstance(key, dict):
        face.check_alternate_key(entity, key)
    else:
        key = face.guid(key)
    with face.pool.write_lock, sales.store.transaction():
        record_id = sales.find(entity.entity_set, key)
        if record_id is None:
            raise face.missing(entity, key)
        check_etag(face, call, entity, record_id)
        sales.delete(entity.entity_set, record_id)
    return Reply(204, {"OData-Version": "4.0"})


def multiple(face: DataverseFace, call: Call, entity: Entity, action: str) -> Reply:
    """``POST contacts/Microsoft.Dynamics.CRM.CreateMultiple`` (and Update, Upsert)."""
    if call.method != "POST":
        raise ApiError(405, f"{action} takes POST.", "0x80060888")
    body = call.json()
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets:
        raise ApiError(400, f"{action} needs a non-empty Targets collection.", "0x80040203")
    items = [_item(entity, i, t) for i, t in enumerate(targets)]
    sales = face.pool.get()
    ids: list[str] = []
    with face.pool.write_lock, sales.store.transaction():
        if action == "CreateMultiple":
            ids = _positioned(lambda: sales.create(entity.entity_set, items))
        else:
            for index, item in enumerate(items):
                ids.append(
                    _positioned(lambda i=index, b=item: _one(face, entity, action, i, b), index)
                )
    context = f"{call.root}$metadata#Microsoft.Dynamics.CRM.{action}Response"
    if action == "UpdateMultiple":
        return Reply(204, {"OData-Version": "4.0"})
    return json_reply(200, {"@odata.context": context, "Ids": ids})


def _item(entity: Entity, index: int, target: Any) -> Record:
    if not isinstance(target, dict):
        raise ApiError(400, f"Targets[{index}] is not a JSON object.", "0x80040203")
    kind = target.get("@odata.type")
    if kind is not None and str(kind).lstrip("#") != f"Microsoft.Dynamics.CRM.{entity.name}":
        raise ApiError(
            400,
            f"Targets[{index}]: the @odata.type {kind!r} is not the table "
            f"'Microsoft.Dynamics.CRM.{entity.name}' of the request.",
            "0x80040203",
        )
    return dict(target)


def _positioned(run: Any, index: int | None = None) -> Any:
    """Runs a write; each problem of a refusal names its item by its position in Targets."""
    try:
        return run()
    except InputError as error:
        problems = [_place(p, index) for p in error.problems or [error]]
        raise InputError(error.message, problems) from None
    except NotFoundError as error:
        raise _place(error, index) from None
    except P2CError as error:
        raise InputError(error.message, [_place(error, index)]) from None


def _place(problem: P2CError, index: int | None) -> P2CError:
    record = problem.record or ""
    if index is not None:
        where = f"[{index}]"
    else:
        where = record[record.rfind("[") :] if "[" in record else ""
    kind = NotFoundError if isinstance(problem, NotFoundError) else P2CError
    return kind(
        f"Targets{where}: {problem.message}", record=record, field=problem.field, fix=problem.fix
    )


def _one(face: DataverseFace, entity: Entity, action: str, index: int, item: Record) -> str:
    sales = face.pool.get()
    key_name = entity.key[0]
    key: ParsedKey | None = None
    reference = item.pop("@odata.id", None)
    if reference is not None:
        key = _reference_key(entity, str(reference), index)
    elif item.get(key_name):
        key = face.guid(item.pop(key_name))
    else:
        for columns in entity.alternate_keys.values():
            if all(item.get(c) not in (None, "") for c in columns):
                key = {c: item[c] for c in columns}
                break
    where = f"Targets[{index}]"
    if key is None:
        raise ApiError(
            400, f"{where}: the record has no {key_name} nor alternate key.", "0x80040203"
        )
    if isinstance(key, dict):
        face.check_alternate_key(entity, key)
        item.update(key)
    record_id = sales.find(entity.entity_set, key)
    if record_id is not None:
        sales.update(entity.entity_set, record_id, item)
        return record_id
    if action == "UpdateMultiple":
        missing = face.missing(entity, key)
        raise ApiError(missing.status, f"{where}: {missing.message}", missing.code)
    if not isinstance(key, dict):
        item[key_name] = key
    return str(sales.create(entity.entity_set, [item])[0])


def _reference_key(entity: Entity, reference: str, index: int) -> ParsedKey:
    resource = parse_resource(reference.rsplit("/", 1)[-1])
    if resource.name != entity.entity_set or resource.key is None:
        raise ApiError(
            400,
            f"Targets[{index}]: @odata.id {reference!r} is not a record of {entity.entity_set}.",
            "0x80040203",
        )
    return parse_key(resource.key)


def bulk_delete(face: DataverseFace, call: Call) -> Reply:
    """The ``BulkDelete`` action for a QueryExpression whose criteria are ``In`` (or
    ``Equal``) conditions on the primary key. Dataverse runs it as a system job; the
    emulator deletes at once and answers the job's id (INFERRED)."""
    if call.method != "POST":
        raise ApiError(405, "BulkDelete takes POST.", "0x80060888")
    body = call.json()
    queries = body.get("QuerySet") if isinstance(body, dict) else None
    if not isinstance(queries, list) or not queries:
        raise ApiError(400, "BulkDelete needs a QuerySet.", "0x80040203")
    work: list[tuple[Entity, list[str]]] = []
    for query in queries:
        entity = SALES.find(str(query.get("EntityName", "")))
        if entity is None or entity not in face.served():
            raise ApiError(
                400, f"The entity '{query.get('EntityName')}' does not exist.", "0x80040203"
            )
        work.append((entity, _query_ids(entity, query)))
    sales = face.pool.get()
    with face.pool.write_lock, sales.store.transaction():
        for entity, ids in work:
            for record_id in ids:
                if sales.find(entity.entity_set, record_id) is not None:
                    sales.delete(entity.entity_set, record_id)
    context = f"{call.root}$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse"
    return json_reply(200, {"@odata.context": context, "JobId": str(uuid.uuid4())})


def _query_ids(entity: Entity, query: Record) -> list[str]:
    criteria = query.get("Criteria") or {}
    conditions = criteria.get("Conditions") or []
    unsupported = ApiError(
        400,
        "The emulator's BulkDelete takes only conditions In or Equal on the primary key "
        f"{entity.key[0]}.",
        "0x80040203",
    )
    if criteria.get("Filters") or len(conditions) != 1:
        raise unsupported
    ids: list[str] = []
    for condition in conditions:
        if condition.get("AttributeName") != entity.key[0]:
            raise unsupported
        if condition.get("Operator") not in ("In", "Equal"):
            raise unsupported
        ids += [str(v.get("Value") if isinstance(v, dict) else v) for v in condition["Values"]]
    return ids
