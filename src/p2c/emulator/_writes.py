"""Writes of the F&O face: POST creates, PATCH updates by the full key.

A batch of independent writes to one entity set (each alone in its change set, with
``Prefer: odata.continue-on-error``, as the connector sends them) runs as one keyed upsert:
one lookup of the stored keys, one validation pass, one statement, and each request is
answered as if it had run alone. A single request is a group of one.
"""

from __future__ import annotations

__all__ = ["stale", "write_group"]

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from p2c.dynamics import Entity, Outcome
from p2c.emulator._finops_metadata import row_etag
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import parse_resource
from p2c.sandbox import chunks

if TYPE_CHECKING:
    from p2c.emulator._odata import KeyedFace

_AREA = "dataAreaId"
Key = tuple[Any, ...]
Record = dict[str, Any]
Plan = tuple[Entity, str, Record, Key]


def _plan(face: KeyedFace, call: Call) -> Plan | None:
    """(entity, method, record, key) of a write, or None when it is not one."""
    resource = parse_resource(call.path.rstrip("/"))
    entity = face.entities.get(resource.name)
    if entity is None or resource.tail is not None:
        return None
    if call.method == "POST" and resource.key is None:
        record = face.body(call, entity)
        if _AREA in entity.by_name and not record.get(_AREA):
            record[_AREA] = face.settings.default_company
        if isinstance(record.get(_AREA), str):
            record[_AREA] = record[_AREA].lower()
        return entity, "POST", record, tuple(record.get(k) for k in entity.key)
    if call.method == "PATCH" and resource.key is not None:
        key = face.key(call, entity, resource.key)
        record = face.body(call, entity)
        record.update(key)  # the key in the URL wins over the body
        return entity, "PATCH", record, tuple(key[k] for k in entity.key)
    return None


def _plans(
    face: KeyedFace, calls: Sequence[Call]
) -> tuple[list[Plan | Reply], Entity | None] | None:
    """Each write's plan, or the answer to a request refused before it runs, and the one
    entity set written; None when the requests are not all writes to one entity set."""
    plans: list[Plan | Reply] = []
    entity: Entity | None = None
    for call in calls:
        try:
            plan = _plan(face, call)
        except ApiError as error:
            plans.append(face.render(error))
            continue
        if plan is None or (entity is not None and plan[0] is not entity):
            return None
        entity = plan[0]
        plans.append(plan)
    return plans, entity


def write_group(face: KeyedFace, calls: Sequence[Call]) -> list[Reply] | None:
    """Answers to independent writes, in order; None when they cannot run as one group
    (several entity sets, a key written twice, or a request that is not a write)."""
    planned = _plans(face, calls)
    if planned is None:
        return None
    plans, entity = planned
    keys = [p[3] for p in plans if not isinstance(p, Reply)]
    if len(keys) != len(set(keys)):
        return None
    if entity is None:
        return [p for p in plans if isinstance(p, Reply)]
    system = face.pool.get()
    replies: list[Reply | None] = [p if isinstance(p, Reply) else None for p in plans]
    with face.pool.write_lock, system.store.transaction():
        stored = _stored(face, entity, [k for k in keys if all(v not in (None, "") for v in k)])
        pending: list[int] = []
        for index, item in enumerate(plans):
            if isinstance(item, Reply):
                continue
            _, method, _, key = item
            if method == "POST" and key in stored:
                replies[index] = face.render(_exists(face, entity, key))
            elif method == "PATCH" and key not in stored:
                replies[index] = face.render(face.not_found(entity))
            elif method == "PATCH" and _stale(calls[index], stored[key]):
                replies[index] = face.render(stale())
            else:
                pending.append(index)
        records = [plans[i][2] for i in pending]  # type: ignore[index]
        outcomes = system.upsert(entity.entity_set, records) if records else []
        created = [o.key for o in outcomes if o.status == "created"]
        rows = _stored(face, entity, created) if created else {}
    # The cost model: server time per record written, outside the write lock.
    written = sum(o.status in ("created", "updated") for o in outcomes)
    if written and face.settings.odata_record_ms:
        time.sleep(written * face.settings.odata_record_ms / 1000)
    for index, outcome in zip(pending, outcomes, strict=True):
        method = plans[index][1]  # type: ignore[index]
        replies[index] = _answer(face, entity, calls[index], method, outcome, rows)
    return [r for r in replies if r is not None]


def stale() -> ApiError:
    """F&O's answer to a write whose ``If-Match`` names an older version of the record
    (INFERRED: the wording; the status is OData's for a failed precondition)."""
    return ApiError(412, "The record was changed since it was read (ETag mismatch).")


def _stale(call: Call, stored: Record) -> bool:
    """``If-Match`` names ETags and the stored record's is not one of them."""
    wanted = call.headers.get("if-match", "").strip()
    if wanted in ("", "*"):
        return False
    return stored["@odata.etag"] not in {t.strip() for t in wanted.split(",")}


def _answer(
    face: KeyedFace,
    entity: Entity,
    call: Call,
    method: str,
    outcome: Outcome,
    rows: dict[Key, Record],
) -> Reply:
    """A write's answer as if it had run alone: the refusal, 204 for an update, or 201 with
    the created record as stored (``rows``, read back in the group's transaction)."""
    if outcome.status == "failed":
        return face.render(face.write_error(entity, outcome.message or "The record was refused."))
    named = dict(zip(entity.key, outcome.key, strict=True))
    location = f"{call.root}{entity.entity_set}({face.key_segment(named)})"
    if method == "PATCH":
        return Reply(204, {"OData-Version": "4.0", "OData-EntityId": location})
    return json_reply(
        201,
        {
            "@odata.context": f"{call.root}$metadata#{entity.entity_set}/$entity",
            **rows[outcome.key],
        },
        {"Location": location, "OData-EntityId": location},
    )


def _stored(face: KeyedFace, entity: Entity, keys: Sequence[Key]) -> dict[Key, Record]:
    """Stored records with these keys, in their JSON form, by key (row values on the primary
    key index)."""
    columns = entity.key
    names = ", ".join(f'"{c}"' for c in columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    found: dict[Key, Record] = {}
    store = face.pool.get().store
    for part in chunks(list(keys), max(1, 900 // len(columns))):
        rows = ", ".join([one] * len(part))
        where = f"WHERE ({names}) IN (VALUES {rows})"
        for record in store.rows(entity, where, [v for key in part for v in key]):
            shown = {"@odata.etag": row_etag(entity, record)}
            shown.update({f.name: f.present(record.get(f.name)) for f in entity.fields})
            found[tuple(record[c] for c in columns)] = shown
    return found


def _exists(face: KeyedFace, entity: Entity, key: Key) -> ApiError:
    text = ", ".join(f"{k}: {v}" for k, v in zip(entity.key, key, strict=True))
    return face.write_error(
        entity,
        f"Cannot create a record in {entity.label or entity.name} ({entity.name}). {text}. "
        "The record already exists.",
    )
