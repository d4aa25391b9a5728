"""Dataverse table definitions (``EntityDefinitions``) made from the public model of Sales.

Every definition is generated from :mod:`p2c.dynamics` and the columns the sandbox shows, so
the metadata never disagrees with the data: an entity's attributes are its fields, its keys
are its alternate keys, its relationships are its lookups. The shapes follow the Web API
metadata entity types (EntityMetadata, AttributeMetadata and its derived types,
EntityKeyMetadata, OneToManyRelationshipMetadata); values the model does not hold (schema
names of columns, object type codes, cascade rules) are marked INFERRED in docs/connectors.md.
"""

from __future__ import annotations

__all__ = [
    "Definitions",
    "attribute_type",
    "cascade_delete",
    "label",
    "metadata_id",
    "primary_name",
]

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from p2c.dynamics import Entity, Field, FieldType
from p2c.emulator._definition_shapes import (
    OBJECT_TYPE_CODES,
    PRIMARY_NAMES,
    RELATIONSHIP_NAMES,
    SCHEMA_NAMES,
    derived_type,
)

NS = "Microsoft.Dynamics.CRM"
LANGUAGE = 1033
Record = dict[str, Any]


_INT_RANGE = (-2147483648, 2147483647)
_MONEY_RANGE = (-922337203685477, 922337203685477)


def metadata_id(*parts: str) -> str:
    """A stable MetadataId for a definition, the same in every emulator."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "p2c-metadata:" + "/".join(parts)))


def label(text: str, *ident: str) -> Record:
    """A Label complex type in the one language the emulator has (English, 1033)."""
    localized = {
        "Label": text,
        "LanguageCode": LANGUAGE,
        "IsManaged": True,
        "MetadataId": metadata_id("label", *ident, text),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized] if text else [], "UserLocalizedLabel": localized}


def _schema(name: str) -> str:
    """Schema name of a column: the logical name with each part capitalized after a
    publisher prefix (INFERRED: Dataverse keeps the casing its makers chose)."""
    prefix, sep, rest = name.partition("_")
    if sep and prefix == "msdynce":
        return f"msdynce_{rest[:1].upper()}{rest[1:]}"
    return "_".join(part[:1].upper() + part[1:] for part in name.split("_"))


def attribute_type(entity: Entity, f: Field) -> str:
    """The AttributeType of a field."""
    kind = f.type
    if f.name == entity.key[0]:
        return "Uniqueidentifier"
    if kind is FieldType.STRING:
        return "Memo" if (f.max_length or 0) >= 2000 else "String"
    if kind is FieldType.PICKLIST:
        return {"statecode": "State", "statuscode": "Status"}.get(f.name, "Picklist")
    if kind is FieldType.LOOKUP:
        return "Customer" if set(f.targets) == {"account", "contact"} else "Lookup"
    return {
        FieldType.INT: "Integer",
        FieldType.MONEY: "Money",
        FieldType.BOOL: "Boolean",
        FieldType.GUID: "Uniqueidentifier",
        FieldType.DATETIME: "DateTime",
    }[kind]


def cascade_delete(referencing: Entity, f: Field) -> str:
    """What deleting a referenced record does to the records that point at it (INFERRED):
    a required lookup restricts the delete, an optional one loses its link."""
    return "Restrict" if f.required else "RemoveLink"


@dataclass(frozen=True)
class Relationship:
    """One one-to-many relationship: a lookup of ``referencing`` to ``referenced``."""

    schema_name: str
    referencing: Entity
    field: Field
    referenced: str
    navigation: str


class Definitions:
    """The definitions of the served tables.

    Args:
        entities: The served entities.
        visible: The columns an entity shows (solution columns only once installed).
        tracked: Whether change tracking is on for an entity.
    """

    def __init__(
        self,
        entities: Sequence[Entity],
        visible: Callable[[Entity], set[str]],
        tracked: Callable[[Entity], bool],
    ) -> None:
        self.entities = list(entities)
        self.visible = visible
        self.tracked = tracked
        self.by_name = {e.name: e for e in self.entities}

    def find(self, key: Any) -> Entity | None:
        """An entity by ``LogicalName='x'`` key (a dict) or MetadataId."""
        if isinstance(key, dict):
            if set(key) != {"LogicalName"}:
                return None
            return self.by_name.get(str(key["LogicalName"]))
        for entity in self.entities:
            if metadata_id("entity", entity.name) == str(key).lower():
                return entity
        return None

    # tables ----------------------------------------------------------------------------------

    def entity(self, entity: Entity) -> Record:
        name = entity.name
        display = entity.label or name
        custom = name.startswith("msdynce_")
        if "owningbusinessunit" in entity.by_name:
            ownership = "UserOwned"
        else:
            ownership = "BusinessOwned" if name == "businessunit" else "OrganizationOwned"
        schema = SCHEMA_NAMES.get(name, _schema(name))
        return {
            "MetadataId": metadata_id("entity", name),
            "LogicalName": name,
            "SchemaName": schema,
            "EntitySetName": entity.entity_set,
            "LogicalCollectionName": entity.entity_set,
            "CollectionSchemaName": schema + "s",
            "PrimaryIdAttribute": entity.key[0],
            "PrimaryNameAttribute": primary_name(entity),
            "ObjectTypeCode": OBJECT_TYPE_CODES.get(name, 10000 + sorted(self.by_name).index(name)),
            "DisplayName": label(display, name),
            "DisplayCollectionName": label(display + "s", name, "collection"),
            "Description": label("", name, "description"),
            "IsCustomEntity": custom,
            "IsManaged": True,
            "IsPrivate": False,
            "IsActivity": False,
            "IsIntersect": False,
            "IsLogicalEntity": False,
            "IsValidForAdvancedFind": True,
            "OwnershipType": ownership,
            "ChangeTrackingEnabled": self.tracked(entity),
            "HasActivities": name in ("account", "contact"),
            "HasNotes": name in ("account", "contact", "quote", "salesorder", "invoice"),
            "TableType": "Standard",
            "IntroducedVersion": "1.0" if custom else "5.0.0.0",
            "EntityColor": None,
        }

    # columns ---------------------------------------------------------------------------------

    def attributes(self, entity: Entity) -> list[Record]:
        """Every column's definition, with the ``<lookup>type`` column of a polymorphic
        lookup; each with its ``@odata.type``."""
        shown = self.visible(entity)
        out: list[Record] = []
        number = 0
        for f in entity.fields:
            if f.name not in shown:
                continue
            number += 1
            out.append(self.attribute(entity, f, number))
            if f.polymorphic:
                number += 1
                out.append(self._type_column(entity, f, number))
        return out

    def attribute(self, entity: Entity, f: Field, number: int) -> Record:
        kind = attribute_type(entity, f)
        primary_id = f.name == entity.key[0]
        record: Record = {
            "@odata.type": f"#{NS}.{derived_type(kind)}",
            "MetadataId": metadata_id("attribute", entity.name, f.name),
            "LogicalName": f.name,
            "SchemaName": _schema(f.name),
            "EntityLogicalName": entity.name,
            "AttributeType": kind,
            "AttributeTypeName": {"Value": kind + "Type"},
            "AttributeOf": None,
            "ColumnNumber": number,
            "DisplayName": label(f.display, entity.name, f.name),
            "Description": label("", entity.name, f.name, "description"),
            "IsPrimaryId": primary_id,
            "IsPrimaryName": f.name == primary_name(entity),
            "IsCustomAttribute": f.solution is not None,
            "IsManaged": True,
            "IsLogical": False,
            "IsValidForCreate": not f.read_only,
            "IsValidForUpdate": not f.read_only and not primary_id,
            "IsValidForRead": True,
            "IsValidODataAttribute": True,
            "RequiredLevel": {
                "Value": "SystemRequired"
                if primary_id
                else ("ApplicationRequired" if f.required else "None"),
                "CanBeChanged": not primary_id,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            "IntroducedVersion": "1.0" if f.solution else "5.0.0.0",
            "SourceType": 0,
        }
        record.update(_derived_values(entity, f, kind))
        return record

    def _type_column(self, entity: Entity, f: Field, number: int) -> Record:
        name = f.name + "type"
        return {
            "@odata.type": f"#{NS}.EntityNameAttributeMetadata",
            "MetadataId": metadata_id("attribute", entity.name, name),
            "LogicalName": name,
            "SchemaName": _schema(f.name) + "Type",
            "EntityLogicalName": entity.name,
            "AttributeType": "EntityName",
            "AttributeTypeName": {"Value": "EntityNameType"},
            "AttributeOf": f.name,
            "ColumnNumber": number,
            "DisplayName": label("", entity.name, name),
            "Description": label("", entity.name, name, "description"),
            "IsPrimaryId": False,
            "IsPrimaryName": False,
            "IsCustomAttribute": False,
            "IsManaged": True,
            "IsLogical": False,
            "IsValidForCreate": False,
            "IsValidForUpdate": False,
            "IsValidForRead": True,
            "IsValidODataAttribute": False,
            "RequiredLevel": {
                "Value": "None",
                "CanBeChanged": False,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            "IntroducedVersion": "5.0.0.0",
            "SourceType": 0,
            "DefaultFormValue": None,
        }

    def option_set(self, entity: Entity, name: str) -> Record | None:
        """The OptionSet of a choice, state, status or yes/no column (``$expand=OptionSet``)."""
        f = entity.by_name.get(name)
        if f is None:
            return None
        ident = (entity.name, f.name)
        common = {
            "MetadataId": metadata_id("optionset", *ident),
            "Name": f"{entity.name}_{f.name}",
            "IsGlobal": False,
            "IsCustomOptionSet": f.solution is not None,
            "IsManaged": True,
            "DisplayName": label(f.display, *ident, "optionset"),
            "Description": label("", *ident, "optionset", "description"),
        }
        if f.type is FieldType.BOOL:
            labels = f.option_labels or ("No", "Yes")
            return {
                **common,
                "@odata.type": f"#{NS}.BooleanOptionSetMetadata",
                "OptionSetType": "Boolean",
                "FalseOption": _option(0, labels[0], *ident),
                "TrueOption": _option(1, labels[1], *ident),
            }
        if f.type is not FieldType.PICKLIST:
            return None
        options = f.options or tuple(range(1, len(f.option_labels) + 1))
        kind = attribute_type(entity, f)
        items = []
        for value, text in zip(options, f.option_labels or [str(o) for o in options], strict=False):
            item = _option(value, text, *ident)
            if kind == "State":
                item["DefaultStatus"] = value + 1
                item["InvariantName"] = text
            elif kind == "Status":
                item["State"] = value - 1
            items.append(item)
        return {
            **common,
            "@odata.type": f"#{NS}.OptionSetMetadata",
            "OptionSetType": kind if kind in ("State", "Status") else "Picklist",
            "Options": items,
        }

    # keys and relationships --------------------------------------------------------------------

    def keys(self, entity: Entity) -> list[Record]:
        shown = self.visible(entity)
        out = []
        for name, columns in entity.alternate_keys.items():
            if not set(columns) <= shown:
                continue
            out.append(
                {
                    "MetadataId": metadata_id("key", entity.name, name),
                    "LogicalName": name.lower(),
                    "SchemaName": name,
                    "EntityLogicalName": entity.name,
                    "KeyAttributes": list(columns),
                    "EntityKeyIndexStatus": "Active",
                    "DisplayName": label(name, entity.name, "key", name),
                    "IsManaged": True,
                    "IsCustomizable": {
                        "Value": True,
                        "CanBeChanged": True,
                        "ManagedPropertyLogicalName": "iscustomizable",
                    },
                    "AsyncJob": None,
                    "IntroducedVersion": "1.0",
                }
            )
        return out

    def relationships(self) -> list[Relationship]:
        found = []
        for entity in self.entities:
            shown = self.visible(entity)
            for f in entity.fields:
                if f.type is not FieldType.LOOKUP or f.name not in shown:
                    continue
                for target in f.targets:
                    if target not in self.by_name:
                        continue
                    name = RELATIONSHIP_NAMES.get(
                        (entity.name, f.name, target), f"{target}_{entity.name}_{f.name}"
                    )
                    nav = f"{f.name}_{target}" if f.polymorphic else f.name
                    found.append(Relationship(name, entity, f, target, nav))
        return found

    def one_to_many(self, relationship: Relationship) -> Record:
        r = relationship
        delete = cascade_delete(r.referencing, r.field)
        return {
            "@odata.type": f"#{NS}.OneToManyRelationshipMetadata",
            "MetadataId": metadata_id("relationship", r.schema_name),
            "SchemaName": r.schema_name,
            "RelationshipType": "OneToManyRelationship",
            "ReferencedEntity": r.referenced,
            "ReferencedAttribute": self.by_name[r.referenced].key[0],
            "ReferencingEntity": r.referencing.name,
            "ReferencingAttribute": r.field.name,
            "ReferencedEntityNavigationPropertyName": r.schema_name,
            "ReferencingEntityNavigationPropertyName": r.navigation,
            "IsCustomRelationship": r.field.solution is not None,
            "IsManaged": True,
            "IsValidForAdvancedFind": True,
            "IsHierarchical": r.referenced == r.referencing.name,
            "SecurityTypes": "None",
            "CascadeConfiguration": {
                "Assign": "NoCascade",
                "Delete": delete,
                "Merge": "NoCascade",
                "Reparent": "NoCascade",
                "Share": "NoCascade",
                "Unshare": "NoCascade",
                "RollupView": "NoCascade",
                "Archive": "NoCascade",
            },
            "IntroducedVersion": "5.0.0.0",
        }


def primary_name(entity: Entity) -> str | None:
    """The primary name column of a table (``fullname`` of a contact)."""
    return PRIMARY_NAMES.get(entity.name, "name" if "name" in entity.by_name else None)


def _option(value: int, text: str, *ident: str) -> Record:
    return {
        "Value": value,
        "Label": label(text, *ident, str(value)),
        "Description": label("", *ident, str(value), "description"),
        "Color": None,
        "IsManaged": True,
        "ExternalValue": None,
        "ParentValues": [],
        "Tag": None,
        "IsHidden": False,
        "MetadataId": None,
        "HasChanged": None,
    }


def _derived_values(entity: Entity, f: Field, kind: str) -> Record:
    if kind in ("String", "Memo"):
        length = f.max_length or 4000
        formats = {"emailaddress1": "Email", "websiteurl": "Url"}
        text_format = formats.get(
            f.name, "Phone" if "phone" in f.name or f.name == "fax" else "Text"
        )
        if kind == "Memo":
            return {"MaxLength": length, "Format": "TextArea", "DatabaseLength": length * 2}
        return {
            "MaxLength": length,
            "Format": text_format,
            "FormatName": {"Value": text_format},
            "DatabaseLength": length * 2,
        }
    if kind == "Integer":
        return {"MinValue": _INT_RANGE[0], "MaxValue": _INT_RANGE[1], "Format": "None"}
    if kind == "Money":
        low, high = _MONEY_RANGE
        return {"MinValue": low, "MaxValue": high, "Precision": 2, "PrecisionSource": 2}
    if kind == "Boolean":
        return {"DefaultValue": bool(f.default)}
    if kind == "DateTime":
        return {"Format": "DateAndTime", "DateTimeBehavior": {"Value": "UserLocal"}}
    if kind in ("Picklist", "State", "Status"):
        return {"DefaultFormValue": f.default if f.default is not None else -1}
    if kind in ("Lookup", "Customer"):
        return {"Targets": list(f.targets), "Format": "None"}
    return {}
