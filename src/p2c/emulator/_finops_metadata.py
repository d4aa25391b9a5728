"""F&O's metadata service (``{environment}/Metadata/``) and version actions, made from the
public model of F&O (or of the CDS hub, served in the same shape).

``PublicEntities`` (each with its properties and keys), ``DataEntities``,
``PublicEnumerations`` and ``Labels`` as far as p2c's entities go; a single one by
``('Name')`` or ``(Name='Name')``; ``$select`` and ``$filter`` (other options are refused).
The version actions are ``DataManagementEntities/...GetApplicationVersion``,
``...GetPlatformBuildVersion`` and ``SystemNotifications/...GetInstalledModules``. Entity
names, labels ids and version numbers that the model does not hold are INFERRED.
"""

from __future__ import annotations

__all__ = ["ACTIONS", "action_reply", "metadata_service_reply", "row_etag"]

import base64
import zlib
from collections.abc import Sequence
from typing import Any

from p2c.dynamics import Entity, Field, FieldType
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._metadata import enum_type_name
from p2c.emulator._options import parse_filter_text, parse_key, parse_resource, parse_select
from p2c.odata import evaluate, fields_of

_NS = "Microsoft.Dynamics.DataEntities"
APPLICATION_VERSION = "10.0.41"
PLATFORM_VERSION = "7.0.7367.41"
ACTIONS = {
    f"DataManagementEntities/{_NS}.GetApplicationVersion": APPLICATION_VERSION,
    f"DataManagementEntities/{_NS}.GetPlatformBuildVersion": PLATFORM_VERSION,
    f"SystemNotifications/{_NS}.GetInstalledModules": None,
}
_MODULES = ("ApplicationPlatform", "ApplicationFoundation", "ApplicationSuite", "Directory")
_DATA_TYPES = {
    FieldType.STRING: "String",
    FieldType.INT: "Int",
    FieldType.MONEY: "Real",
    FieldType.BOOL: "Enum",
    FieldType.GUID: "Guid",
    FieldType.DATETIME: "DateTime",
    FieldType.ENUM: "Enum",
    FieldType.NOYES: "Enum",
}
Record = dict[str, Any]


def row_etag(entity: Entity, row: Record) -> str:
    """F&O's weak ETag of a record: ``W/"<base64 of 1,version>"``; the version is a digest
    of the stored values (INFERRED: F&O uses the record's RecVersion)."""
    version = zlib.crc32(repr(tuple(row.get(f.name) for f in entity.fields)).encode())
    return 'W/"' + base64.b64encode(f"1,{version}".encode()).decode() + '"'


def action_reply(call: Call, path: str, entities: Sequence[Entity]) -> Reply:
    """The answer of a version action."""
    if call.method != "POST":
        raise ApiError(405, f"The action {path.rsplit('.', 1)[-1]} takes POST.")
    value = ACTIONS[path]
    if value is not None:
        context = f"{call.root}$metadata#Edm.String"
        return json_reply(200, {"@odata.context": context, "value": value})
    modules = [f"Name: {m}, Version: {APPLICATION_VERSION}" for m in _MODULES]
    context = f"{call.root}$metadata#Collection(Edm.String)"
    return json_reply(200, {"@odata.context": context, "value": modules})


def _label_id(*parts: str) -> str:
    return "@P2C:" + "_".join(parts)


def _labels(entities: Sequence[Entity]) -> dict[str, str]:
    found: dict[str, str] = {}
    for entity in entities:
        found[_label_id(entity.name)] = entity.label or entity.name
        for f in entity.fields:
            found[_label_id(entity.name, f.name)] = f.display
    for name, members in _enums(entities).items():
        for member in members:
            found[_label_id(name, member)] = member
    return found


def _enums(entities: Sequence[Entity]) -> dict[str, tuple[str, ...]]:
    enums: dict[str, tuple[str, ...]] = {}
    for entity in entities:
        for f in entity.fields:
            if f.type in (FieldType.ENUM, FieldType.NOYES):
                members = ("No", "Yes") if f.type is FieldType.NOYES else tuple(f.options)
                enums[enum_type_name(f)] = members
    return enums


def _property(entity: Entity, f: Field) -> Record:
    enum = f.type in (FieldType.ENUM, FieldType.NOYES)
    return {
        "Name": f.name,
        "TypeName": enum_type_name(f) if enum else _DATA_TYPES[f.type],
        "DataType": _DATA_TYPES[f.type],
        "LabelId": _label_id(entity.name, f.name),
        "IsKey": f.name in entity.key,
        "IsMandatory": f.required or f.name in entity.key,
        "ConfigurationEnabled": True,
        "AllowEdit": f.name not in entity.key and not f.read_only,
        "AllowEditOnCreate": not f.read_only,
        "IsDimension": False,
        "DimensionRelation": "",
        "IsDynamicDimension": False,
        "DimensionLegalEntityProperty": "",
        "DimensionTypeProperty": "",
    }


def _public_entity(entity: Entity) -> Record:
    return {
        "Name": entity.name,
        "EntitySetName": entity.entity_set,
        "LabelId": _label_id(entity.name),
        "IsReadOnly": False,
        "ConfigurationEnabled": True,
        "Properties": [_property(entity, f) for f in entity.fields],
        "NavigationProperties": [],
        "PropertyGroups": [],
        "Actions": [],
    }


def _data_entity(entity: Entity) -> Record:
    return {
        "Name": f"{entity.name}Entity",
        "PublicEntityName": entity.name,
        "PublicCollectionName": entity.entity_set,
        "LabelId": _label_id(entity.name),
        "DataServiceEnabled": True,
        "DataManagementEnabled": True,
        "EntityCategory": "Master",
        "IsReadOnly": False,
    }


def _enumeration(name: str, members: tuple[str, ...]) -> Record:
    return {
        "Name": name,
        "LabelId": _label_id(name),
        "Members": [
            {
                "Name": member,
                "Value": value,
                "LabelId": _label_id(name, member),
                "ConfigurationEnabled": True,
            }
            for value, member in enumerate(members)
        ],
    }


def metadata_service_reply(call: Call, entities: Sequence[Entity]) -> Reply:
    """``GET {environment}/Metadata/<collection>`` and a member by key."""
    if call.method != "GET":
        raise ApiError(405, "The metadata service is read-only.")
    for option in call.query:
        if option not in ("$select", "$filter"):
            raise ApiError(400, f"The query option {option} is not supported by the emulator.")
    resource = parse_resource(call.path.rstrip("/"))
    if resource.tail is not None:
        raise ApiError(404, f"Resource not found for the segment '{resource.tail}'.")
    collections: dict[str, list[Record]] = {
        "PublicEntities": [_public_entity(e) for e in entities],
        "DataEntities": [_data_entity(e) for e in entities],
        "PublicEnumerations": [_enumeration(n, m) for n, m in _enums(entities).items()],
        "Labels": [
            {"Id": key, "Language": "en-us", "Value": value}
            for key, value in _labels(entities).items()
        ],
    }
    records = collections.get(resource.name)
    if records is None:
        raise ApiError(404, f"Resource not found for the segment '{resource.name}'.")
    context = f"{call.root}$metadata#{resource.name}"
    if resource.key is None:
        return json_reply(200, {"@odata.context": context, "value": _query(call, records)})
    found = _member(resource.name, resource.key, records)
    if found is None:
        raise ApiError(404, f"Resource not found for the segment '{resource.name}'.")
    return json_reply(200, {"@odata.context": f"{context}/$entity", **_query(call, [found])[0]})


def _member(collection: str, key_text: str, records: list[Record]) -> Record | None:
    key = parse_key(key_text)
    if not isinstance(key, dict):
        key = {"Id" if collection == "Labels" else "Name": key}
    language = str(key.pop("Language", "en-us")).lower()
    if collection == "Labels" and language != "en-us":
        return None
    for record in records:
        if all(str(record.get(k)) == str(v) for k, v in key.items()):
            return record
    return None


def _query(call: Call, records: list[Record]) -> list[Record]:
    text = call.query.get("$filter")
    if text:
        tree = parse_filter_text(text)
        names = set(records[0]) if records else set()
        for name in fields_of(tree):
            if records and name not in names:
                raise ApiError(400, f"Could not find a property named '{name}'.")
        records = [r for r in records if evaluate(tree, r)]
    selected = parse_select(call.query.get("$select"))
    if selected is None:
        return records
    for name in selected:
        if records and name not in records[0]:
            raise ApiError(400, f"Could not find a property named '{name}'.")
    return [{n: r[n] for n in selected} for r in records]
