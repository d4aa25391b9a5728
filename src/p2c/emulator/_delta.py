"""Dataverse change tracking on the emulator: ``Prefer: odata.track-changes`` on a
collection read adds an ``@odata.deltaLink`` to its last page; that link (``$deltatoken``)
answers with the records created or changed since, and the next delta link.

As in Dataverse, a table must have change tracking enabled, and a delta query takes
``$select`` only (no ``$filter``, ``$orderby`` or ``$expand``). The token of a paged read is
taken at its first page and carried in its next links, so changes made while a client pages
are in the following delta. A record deleted since comes as a ``$deletedEntity`` entry with
its id and the reason ``deleted``.
"""

from __future__ import annotations

__all__ = ["TRACKING", "delta_link", "delta_reply", "start_token"]

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from p2c.dynamics import Entity
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.odata import Compare, Filter, Logical
from p2c.sandbox import SalesSandbox

TRACKING = "odata.track-changes"
_START = "p2c-trackfrom"  # carried in next links: the token of the read's first page
_PER_READ = 500


def _require(sales: SalesSandbox, entity: Entity) -> None:
    if not sales.changes.enabled(entity):
        raise ApiError(
            400,
            f"Change tracking is not enabled for the entity '{entity.name}'. Enable "
            "'Track changes' on the table.",
            "0x80048cea",
        )


def start_token(call: Call, sales: SalesSandbox, entity: Entity) -> str:
    """The token a tracked read reports at its end: the one of its first page."""
    _require(sales, entity)
    token = call.query.get(_START) or sales.changes.token()
    call.query[_START] = token  # next links carry it
    return token


def delta_link(call: Call, token: str) -> str:
    query = {"$select": call.query["$select"]} if "$select" in call.query else {}
    query["$deltatoken"] = token
    return call.root + quote(call.path, safe="()/,'=$") + "?" + urlencode(query, quote_via=quote)


def delta_reply(
    call: Call,
    sales: SalesSandbox,
    entity: Entity,
    read: Callable[[Filter | None], list[dict[str, Any]]],
) -> Reply:
    """The records changed since ``$deltatoken``, and the next delta link."""
    _require(sales, entity)
    for option in ("$filter", "$orderby", "$expand", "$top", "$skip"):
        if option in call.query:
            raise ApiError(
                400,
                f"The query option {option} is not supported with change tracking.",
                "0x80060888",
            )
    try:
        ids, token = sales.changes.since(entity, call.query["$deltatoken"])
    except Exception:  # a token this Sales never gave
        raise ApiError(400, "The delta token is not valid.", "0x80048cec") from None
    key = entity.key[0]
    records = []
    for start in range(0, len(ids), _PER_READ):
        part = ids[start : start + _PER_READ]
        where: Filter | None = None
        for record_id in part:
            one = Compare("eq", key, record_id)
            where = one if where is None else Logical("or", where, one)
        records.extend(read(where))
    # A logged id that no longer reads was deleted: Dataverse reports it as a deleted entity.
    found = {r.get(key) for r in records}
    records += [
        {
            "@odata.context": f"{call.root}$metadata#{entity.entity_set}/$deletedEntity",
            "id": record_id,
            "reason": "deleted",
        }
        for record_id in ids
        if record_id not in found
    ]
    payload = {
        "@odata.context": f"{call.root}$metadata#{entity.entity_set}/$delta",
        "value": records,
        "@odata.deltaLink": delta_link(call, token),
    }
    return json_reply(200, payload, {"Preference-Applied": TRACKING})
