"""What Dataverse clients ask at start-up: the language and version functions, and which
messages a table supports (``sdkmessagefilters`` with its ``sdkmessageid``), as the bulk
operation documentation shows to learn whether a table takes ``CreateMultiple``,
``UpdateMultiple`` and ``UpsertMultiple``. Made from the served tables: every one of them
takes every message the emulator serves.
"""

from __future__ import annotations

__all__ = ["FUNCTIONS", "MESSAGE_SETS", "function_reply", "messages_reply"]

import uuid
from collections.abc import Sequence
from typing import Any

from p2c.dynamics import Entity
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import parse_expand, parse_filter_text, parse_select
from p2c.odata import evaluate, fields_of

VERSION = "9.2.26011.168"
LANGUAGE = 1033
FUNCTIONS: dict[str, dict[str, Any]] = {
    "RetrieveAvailableLanguages": {"LocaleIds": [LANGUAGE]},
    "RetrieveProvisionedLanguages": {"RetrieveProvisionedLanguages": [LANGUAGE]},
    "RetrieveInstalledLanguagePacks": {"RetrieveInstalledLanguagePacks": [LANGUAGE]},
    "RetrieveVersion": {"Version": VERSION},
}
MESSAGES = (
    "Create",
    "Retrieve",
    "RetrieveMultiple",
    "Update",
    "Delete",
    "Upsert",
    "CreateMultiple",
    "UpdateMultiple",
    "UpsertMultiple",
)
MESSAGE_SETS = ("sdkmessagefilters", "sdkmessages")
_FILTER_COLUMNS = (
    "sdkmessagefilterid",
    "name",
    "primaryobjecttypecode",
    "secondaryobjecttypecode",
    "availability",
    "iscustomprocessingstepallowed",
    "isvisible",
    "_sdkmessageid_value",
)
_MESSAGE_COLUMNS = ("sdkmessageid", "name", "isprivate", "isactive", "availability")
Record = dict[str, Any]


def function_reply(call: Call, name: str) -> Reply:
    if call.method != "GET":
        raise ApiError(405, f"{name} is a function: call it with GET.", "0x80060888")
    context = f"{call.root}$metadata#Microsoft.Dynamics.CRM.{name}Response"
    return json_reply(200, {"@odata.context": context, **FUNCTIONS[name]})


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "p2c-sdkmessage:" + "/".join(parts)))


def _message(name: str) -> Record:
    return {
        "sdkmessageid": _id(name),
        "name": name,
        "isprivate": False,
        "isactive": True,
        "availability": 0,
    }


def _filters(entities: Sequence[Entity]) -> list[Record]:
    records = []
    for message in MESSAGES:
        for entity in entities:
            records.append(
                {
                    "sdkmessagefilterid": _id(message, entity.name),
                    "name": f"{message} {entity.name}",
                    "primaryobjecttypecode": entity.name,
                    "secondaryobjecttypecode": "none",
                    "availability": 0,
                    "iscustomprocessingstepallowed": True,
                    "isvisible": True,
                    "_sdkmessageid_value": _id(message),
                }
            )
    return records


def messages_reply(call: Call, set_name: str, entities: Sequence[Entity]) -> Reply:
    """``GET sdkmessagefilters`` (``$select``, ``$filter`` also on ``sdkmessageid/name``,
    ``$expand=sdkmessageid($select=name)``) and ``GET sdkmessages``."""
    if call.method != "GET":
        raise ApiError(
            403,
            f"The emulator's application user cannot write {set_name}: it is missing the "
            "prvWriteSdkMessageProcessingStep privilege.",
            "0x80040220",
        )
    for option in call.query:
        if option not in ("$select", "$filter", "$expand"):
            raise ApiError(
                400, f"The query parameter {option} is not supported on {set_name}.", "0x80060888"
            )
    is_filters = set_name == "sdkmessagefilters"
    records = _filters(entities) if is_filters else [_message(m) for m in MESSAGES]
    columns = _FILTER_COLUMNS if is_filters else _MESSAGE_COLUMNS
    by_id = {_id(m): m for m in MESSAGES}
    text = call.query.get("$filter")
    if text:
        tree = parse_filter_text(text)
        allowed = {*columns, "sdkmessageid/name"} if is_filters else set(columns)
        for name in fields_of(tree):
            if name not in allowed:
                raise _no_property(set_name, name)
        records = [r for r in records if evaluate(tree, _with_message(r, by_id))]
    expands = parse_expand(call.query.get("$expand"))
    for nav, options in expands:
        if not is_filters or nav != "sdkmessageid" or set(options) - {"$select"}:
            raise _no_property(set_name, nav)
    selected = parse_select(call.query.get("$select"))
    key = columns[0]
    out = []
    for record in records:
        shaped = dict(record) if selected is None else {key: record[key]}
        for name in selected or ():
            if name not in columns:
                raise _no_property(set_name, name)
            shaped[name] = record[name]
        for _nav, options in expands:
            message = _message(by_id[record["_sdkmessageid_value"]])
            wanted = parse_select(options.get("$select")) or list(_MESSAGE_COLUMNS)
            shaped["sdkmessageid"] = {n: message[n] for n in ["sdkmessageid", *wanted]}
        out.append(shaped)
    context = f"{call.root}$metadata#{set_name}"
    return json_reply(200, {"@odata.context": context, "value": out})


def _with_message(record: Record, by_id: dict[str, str]) -> Record:
    """A filter record with its message's name, for ``sdkmessageid/name`` in ``$filter``."""
    message = record.get("_sdkmessageid_value")
    return {**record, "sdkmessageid/name": by_id.get(str(message)) if message else None}


def _no_property(set_name: str, name: str) -> ApiError:
    kind = set_name.removesuffix("s")
    return ApiError(
        400,
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{kind}'.",
        "0x80060888",
    )
