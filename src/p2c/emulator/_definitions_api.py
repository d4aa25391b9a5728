"""The metadata paths of the Dataverse face: ``EntityDefinitions`` (by ``LogicalName='x'``
or MetadataId) with its ``Attributes`` (and type casts such as
``Microsoft.Dynamics.CRM.PicklistAttributeMetadata`` with ``$expand=OptionSet``), ``Keys``,
``OneToManyRelationships``, ``ManyToOneRelationships`` and ``ManyToManyRelationships``;
``RelationshipDefinitions`` and ``GlobalOptionSetDefinitions``.

Queries take ``$select``, ``$filter`` (``eq``, ``ne``, ``and``, ``or``, ``not``; enum literals
such as ``Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'``) and ``$expand``; any other
query option is refused with 400. The application user of the emulator has no
customization privileges, so a metadata write is refused with 403, as Dataverse refuses it
for such a user.
"""

from __future__ import annotations

__all__ = ["CUSTOMIZATIONS", "DEFINITION_SETS", "definitions_reply", "metadata_changes_reply"]

import json
import re
from collections.abc import Callable
from typing import Any

from p2c.dynamics import Entity
from p2c.emulator._definition_shapes import (
    ATTRIBUTE_BASE,
    ENTITY_PROPERTIES,
    derived_properties,
    derived_type,
    derived_types,
)
from p2c.emulator._entity_definitions import NS, Definitions
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import parse_expand, parse_filter_text, parse_key, split_top_level
from p2c.odata import evaluate, fields_of

DEFINITION_SETS = ("EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions")
# Unbound actions that customize the system: refused for the emulator's application user.
CUSTOMIZATIONS = (
    "CreateEntities",
    "CreateCustomerRelationships",
    "InsertOptionValue",
    "UpdateOptionValue",
    "DeleteOptionValue",
    "InsertStatusValue",
    "PublishXml",
    "PublishAllXml",
)
_ENUM = re.compile(r"Microsoft\.Dynamics\.CRM\.[A-Za-z]+'((?:[^']|'')*)'")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_.]+)(?:\((?P<key>.*)\))?$")
_QUERY_OPTIONS = {"$select", "$filter", "$expand"}
_RELATIONSHIP_PROPERTIES = (
    "MetadataId",
    "SchemaName",
    "RelationshipType",
    "ReferencedEntity",
    "ReferencedAttribute",
    "ReferencingEntity",
    "ReferencingAttribute",
    "ReferencedEntityNavigationPropertyName",
    "ReferencingEntityNavigationPropertyName",
    "IsCustomRelationship",
    "IsManaged",
    "IsValidForAdvancedFind",
    "IsHierarchical",
    "SecurityTypes",
    "CascadeConfiguration",
    "IntroducedVersion",
)
_KEY_PROPERTIES = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntityLogicalName",
    "KeyAttributes",
    "EntityKeyIndexStatus",
    "DisplayName",
    "IsManaged",
    "IsCustomizable",
    "AsyncJob",
    "IntroducedVersion",
)
_PRIVILEGES = {"POST": "prvCreateEntity", "PATCH": "prvWriteEntity", "PUT": "prvWriteEntity"}
Record = dict[str, Any]
Expander = Callable[[Record, dict[str, str]], Any]


def definitions_reply(call: Call, defs: Definitions) -> Reply:
    """The answer to a request under a metadata entity set."""
    if call.method != "GET" or call.path in CUSTOMIZATIONS:
        privilege = _PRIVILEGES.get(call.method, "prvDeleteEntity")
        raise ApiError(
            403,
            "Principal user (Id=00000000-0000-0000-0000-00000000a991, type=8, roleCount=1, "
            f"privilegeCount=0, accessMode=4), is missing {privilege} privilege; the emulator's "
            "application user cannot customize the system.",
            "0x80040220",
        )
    for option in call.query:
        if option.startswith("$") and option not in _QUERY_OPTIONS:
            raise ApiError(
                400, f"The query parameter {option} is not supported on metadata.", "0x80060888"
            )
    segments = _segments(call.path.rstrip("/"))
    head, key = segments[0]
    if head == "GlobalOptionSetDefinitions":
        if key is not None or len(segments) > 1:
            raise ApiError(404, "Could not find a global option set with that name.", "0x80040217")
        return _collection(call, "GlobalOptionSetDefinitions", [], ("MetadataId", "Name"), {})
    if head == "RelationshipDefinitions":
        return _relationship_definitions(call, defs, key, segments[1:])
    if key is None:
        if len(segments) > 1:
            raise _not_found(segments[1][0])
        records = [defs.entity(e) for e in defs.entities]
        return _collection(call, "EntityDefinitions", records, ENTITY_PROPERTIES, _expanders(defs))
    entity = defs.find(parse_key(key))
    if entity is None:
        raise ApiError(404, f"Could not find an entity with key {key}.", "0x80040217")
    context = f"EntityDefinitions({defs.entity(entity)['MetadataId']})"
    if len(segments) == 1:
        record = defs.entity(entity)
        return _single(call, "EntityDefinitions", record, ENTITY_PROPERTIES, _expanders(defs))
    nav, nav_key = segments[1]
    rest = segments[2:]
    if nav == "Attributes":
        return _attributes(call, defs, entity, context, nav_key, rest)
    if rest or nav_key is not None:
        raise _not_found(rest[0][0] if rest else nav)
    listed = _navigation(defs, entity, nav)
    if listed is None:
        raise _not_found(nav)
    records, properties = listed
    return _collection(call, f"{context}/{nav}", records, properties, {})


# paths -----------------------------------------------------------------------------------------


def _segments(path: str) -> list[tuple[str, str | None]]:
    parts = split_top_level(path, "/")
    out = []
    for part in parts:
        match = _SEGMENT.match(part)
        if not match:
            raise _not_found(part)
        out.append((match["name"], match["key"]))
    return out


def _not_found(segment: str) -> ApiError:
    return ApiError(404, f"Resource not found for the segment '{segment}'.", "0x8006088a")


def _navigation(
    defs: Definitions, entity: Entity, nav: str
) -> tuple[list[Record], tuple[str, ...]] | None:
    if nav == "Keys":
        return defs.keys(entity), _KEY_PROPERTIES
    if nav == "OneToManyRelationships":
        found = [defs.one_to_many(r) for r in defs.relationships() if r.referenced == entity.name]
        return found, _RELATIONSHIP_PROPERTIES
    if nav == "ManyToOneRelationships":
        found = [
            defs.one_to_many(r) for r in defs.relationships() if r.referencing.name == entity.name
        ]
        return found, _RELATIONSHIP_PROPERTIES
    if nav == "ManyToManyRelationships":
        return [], _RELATIONSHIP_PROPERTIES
    return None


def _expanders(defs: Definitions) -> dict[str, Expander]:
    """The collection-valued navigation properties of EntityMetadata, for ``$expand``."""

    def make(nav: str) -> Expander:
        def expand(record: Record, options: dict[str, str]) -> Any:
            entity = defs.by_name[record["LogicalName"]]
            properties: tuple[str, ...]
            if nav == "Attributes":
                records, properties = defs.attributes(entity), ATTRIBUTE_BASE
            else:
                listed = _navigation(defs, entity, nav)
                assert listed is not None
                records, properties = listed
            return _apply(options, records, properties, {}, _type_of(nav))

        return expand

    navs = ("Attributes", "Keys", "OneToManyRelationships", "ManyToOneRelationships")
    return {nav: make(nav) for nav in (*navs, "ManyToManyRelationships")}


# attributes --------------------------------------------------------------------------------------


def _attributes(
    call: Call,
    defs: Definitions,
    entity: Entity,
    context: str,
    key: str | None,
    rest: list[tuple[str, str | None]],
) -> Reply:
    records = defs.attributes(entity)
    cast = None
    if rest:
        cast = _cast(rest[0][0])
        if rest[0][1] is not None or len(rest) > 1:
            raise _not_found(rest[-1][0])
    if key is not None:
        wanted = parse_key(key)
        if isinstance(wanted, dict):
            name = wanted.get("LogicalName")
            found = [
                r for r in records if r["LogicalName"] == name and set(wanted) == {"LogicalName"}
            ]
        else:
            found = [r for r in records if r["MetadataId"] == str(wanted).lower()]
        if not found or (cast is not None and found[0]["@odata.type"] != f"#{NS}.{cast}"):
            raise ApiError(
                404,
                f"Could not find an attribute with key {key} on the entity '{entity.name}'.",
                "0x80040217",
            )
        record = found[0]
        kind = record["AttributeType"]
        own = _option_set_expander(defs, entity) if "OptionSet" in _all(kind) else {}
        return _single(call, f"{context}/Attributes", record, (*ATTRIBUTE_BASE, *_own(kind)), own)
    properties: tuple[str, ...] = ATTRIBUTE_BASE
    expanders: dict[str, Expander] = {}
    path = f"{context}/Attributes"
    if cast is not None:
        records = [r for r in records if r["@odata.type"] == f"#{NS}.{cast}"]
        kinds = {k for k in _kinds() if derived_type(k) == cast}
        properties = (*ATTRIBUTE_BASE, *sorted({p for k in kinds for p in _own(k)}))
        if any("OptionSet" in _all(k) for k in kinds):
            expanders = _option_set_expander(defs, entity)
        path += f"/{NS}.{cast}"
    return _collection(call, path, records, properties, expanders)


def _kinds() -> tuple[str, ...]:
    return (
        "String",
        "Memo",
        "Integer",
        "Money",
        "Boolean",
        "DateTime",
        "Picklist",
        "State",
        "Status",
        "Lookup",
        "Customer",
        "Uniqueidentifier",
        "EntityName",
    )


def _all(kind: str) -> tuple[str, ...]:
    return derived_properties(kind)


def _own(kind: str) -> tuple[str, ...]:
    """The selectable properties of a derived type (OptionSet is a navigation property)."""
    return tuple(p for p in derived_properties(kind) if p != "OptionSet")


def _cast(segment: str) -> str:
    prefix = NS + "."
    name = segment[len(prefix) :] if segment.startswith(prefix) else ""
    if name not in derived_types():
        raise _not_found(segment)
    return name


def _option_set_expander(defs: Definitions, entity: Entity) -> dict[str, Expander]:
    def expand(record: Record, options: dict[str, str]) -> Any:
        found = defs.option_set(entity, record["LogicalName"])
        if found is None:
            return None
        properties = tuple(k for k in found if not k.startswith("@"))
        return _apply(options, [found], properties, {}, f"{NS}.OptionSetMetadataBase")[0]

    return {"OptionSet": expand, "GlobalOptionSet": lambda record, options: None}


# relationships -------------------------------------------------------------------------------


def _relationship_definitions(
    call: Call, defs: Definitions, key: str | None, rest: list[tuple[str, str | None]]
) -> Reply:
    records = [defs.one_to_many(r) for r in defs.relationships()]
    if rest:
        cast = rest[0][0]
        if cast != f"{NS}.OneToManyRelationshipMetadata" or len(rest) > 1:
            raise _not_found(cast)
    if key is None:
        return _collection(call, "RelationshipDefinitions", records, _RELATIONSHIP_PROPERTIES, {})
    wanted = parse_key(key)
    if isinstance(wanted, dict):
        found = [
            r
            for r in records
            if set(wanted) == {"SchemaName"} and r["SchemaName"] == wanted["SchemaName"]
        ]
    else:
        found = [r for r in records if r["MetadataId"] == str(wanted).lower()]
    if not found:
        raise ApiError(404, f"Could not find a relationship with key {key}.", "0x80040217")
    return _single(call, "RelationshipDefinitions", found[0], _RELATIONSHIP_PROPERTIES, {})


# query options ---------------------------------------------------------------------------------


def _collection(
    call: Call,
    path: str,
    records: list[Record],
    properties: tuple[str, ...],
    expanders: dict[str, Expander],
) -> Reply:
    options = {k: v for k, v in call.query.items() if k in _QUERY_OPTIONS}
    value = _apply(options, records, properties, expanders, _type_of(path))
    selected = options.get("$select")
    context = f"{call.root}$metadata#{path}" + (f"({selected})" if selected else "")
    return json_reply(200, {"@odata.context": context, "value": value})


def _single(
    call: Call,
    path: str,
    record: Record,
    properties: tuple[str, ...],
    expanders: dict[str, Expander],
) -> Reply:
    options = {k: v for k, v in call.query.items() if k in _QUERY_OPTIONS}
    if "$filter" in options:
        raise ApiError(400, "The query parameter $filter is not supported on a single definition.")
    shaped = _apply(options, [record], properties, expanders, _type_of(path))[0]
    selected = options.get("$select")
    context = f"{call.root}$metadata#{path}" + (f"({selected})" if selected else "") + "/$entity"
    return json_reply(200, {"@odata.context": context, **shaped})


def _apply(
    options: dict[str, str],
    records: list[Record],
    properties: tuple[str, ...],
    expanders: dict[str, Expander],
    type_name: str,
) -> list[Record]:
    """Filter, select and expand definition records."""
    unknown = set(options) - _QUERY_OPTIONS
    if unknown:
        raise ApiError(
            400,
            f"The query option {sorted(unknown)[0]} is not supported on metadata.",
            "0x80060888",
        )
    text = options.get("$filter")
    if text:
        tree = parse_filter_text(_ENUM.sub(lambda m: f"'{m[1]}'", text))
        for name in sorted(fields_of(tree)):
            if name not in properties:
                raise _no_property(name, type_name)
        records = [r for r in records if evaluate(tree, r)]
    selected = options.get("$select")
    names: list[str] | None = None
    if selected:
        names = [n.strip() for n in selected.split(",") if n.strip()]
        for name in names:
            if name not in properties:
                raise _no_property(name, type_name)
    expands = parse_expand(options.get("$expand"))
    for nav, _ in expands:
        if nav not in expanders:
            raise _no_property(nav, type_name)
    out = []
    for record in records:
        if names is None:
            shaped = dict(record)
        else:
            shaped = {k: v for k, v in record.items() if k.startswith("@")}
            shaped.update({n: record.get(n) for n in ["MetadataId", *names]})
        for nav, nested in expands:
            shaped[nav] = expanders[nav](record, nested)
        out.append(shaped)
    return out


def _type_of(path: str) -> str:
    """The metadata type a path's records are declared as, for error messages."""
    last = path.rsplit("/", 1)[-1]
    if last.startswith(NS + "."):
        return last
    names = {
        "EntityDefinitions": "EntityMetadata",
        "Attributes": "AttributeMetadata",
        "Keys": "EntityKeyMetadata",
        "GlobalOptionSetDefinitions": "OptionSetMetadataBase",
        "RelationshipDefinitions": "RelationshipMetadataBase",
    }
    return f"{NS}.{names.get(last, 'OneToManyRelationshipMetadata')}"


def _no_property(name: str, type_name: str) -> ApiError:
    return ApiError(
        400, f"Could not find a property named '{name}' on type '{type_name}'.", "0x80060888"
    )


# RetrieveMetadataChanges ---------------------------------------------------------------------


def metadata_changes_reply(call: Call, defs: Definitions) -> Reply:
    """``RetrieveMetadataChanges(Query=@p1)``: tables by ``Equals``/``In`` conditions on their
    properties, each with the properties and attributes asked for. Every call answers every
    definition (INFERRED: the emulator's definitions never change, so a ClientVersionStamp
    brings nothing new but is not refused)."""
    text = call.query.get("@p1")
    try:
        query = json.loads(text) if text else None
    except ValueError:
        query = None
    if not isinstance(query, dict):
        raise ApiError(
            400, "RetrieveMetadataChanges needs Query=@p1 with an EntityQueryExpression."
        )
    entities = [e for e in defs.entities if _meets(defs.entity(e), query.get("Criteria"))]
    wanted = (query.get("Properties") or {}).get("PropertyNames")
    attribute_query = query.get("AttributeQuery") or {}
    attribute_names = (attribute_query.get("Properties") or {}).get("PropertyNames")
    found = []
    for entity in entities:
        record = defs.entity(entity)
        shaped = {k: v for k, v in record.items() if wanted is None or k in wanted}
        shaped["MetadataId"] = record["MetadataId"]
        if wanted is None or "Attributes" in wanted:
            shaped["Attributes"] = [
                {
                    k: v
                    for k, v in a.items()
                    if attribute_names is None or k in attribute_names or k == "@odata.type"
                }
                for a in defs.attributes(entity)
                if _meets(a, attribute_query.get("Criteria"))
            ]
        found.append(shaped)
    context = f"{call.root}$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse"
    return json_reply(
        200,
        {"@odata.context": context, "EntityMetadata": found, "ServerVersionStamp": "p2c!1"},
    )


def _meets(record: Record, criteria: Any) -> bool:
    if not criteria:
        return True
    results = []
    for condition in criteria.get("Conditions") or []:
        operator = condition.get("ConditionOperator")
        value = (condition.get("Value") or {}).get("Value")
        actual = record.get(condition.get("PropertyName"))
        if operator == "Equals":
            results.append(actual == value)
        elif operator == "NotEquals":
            results.append(actual != value)
        elif operator == "In":
            results.append(actual in (value or []))
        else:
            raise ApiError(
                400, f"The condition operator {operator} is not supported by the emulator."
            )
    joined = all if criteria.get("FilterOperator", "And") == "And" else any
    return joined(results) if results else True
