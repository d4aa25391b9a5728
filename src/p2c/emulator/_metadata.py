"""``$metadata``: CSDL documents of the served entities, made from the sandbox metadata."""

from __future__ import annotations

__all__ = ["dataverse_csdl", "enum_type_name", "keyed_csdl"]

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from p2c.dynamics import Entity, Field, FieldType

_EDM = {
    FieldType.STRING: "Edm.String",
    FieldType.INT: "Edm.Int32",
    FieldType.MONEY: "Edm.Decimal",
    FieldType.BOOL: "Edm.Boolean",
    FieldType.GUID: "Edm.Guid",
    FieldType.DATETIME: "Edm.DateTimeOffset",
    FieldType.PICKLIST: "Edm.Int32",
    FieldType.LOOKUP: "Edm.Guid",
}
# The F&O enum behind a field, by its values (the sandbox does not name enums).
_FINOPS_ENUMS = {
    ("Yes", "No"): "NoYes",
    ("Organization", "Person"): "DirPartyType",
    ("Unknown", "Male", "Female", "NonSpecific"): "Gender",
    ("No", "Invoice", "All", "Payment", "Requisition", "Never"): "CustVendorBlocked",
}
_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
    "<edmx:DataServices>"
)
_TAIL = "</edmx:DataServices></edmx:Edmx>"


def _a(value: object) -> str:
    return quoteattr(str(value))


def _property(name: str, edm: str, f: Field | None = None) -> str:
    extra = ""
    if f is not None and f.max_length and f.type is FieldType.STRING:
        extra = f" MaxLength={_a(f.max_length)}"
    return f"<Property Name={_a(name)} Type={_a(edm)}{extra}/>"


def _alternate_keys(entity: Entity) -> str:
    if not entity.alternate_keys:
        return ""
    records = "".join(
        '<Record Type="OData.Community.Keys.V1.AlternateKey"><PropertyValue Property="Key">'
        "<Collection>"
        + "".join(
            '<Record Type="OData.Community.Keys.V1.PropertyRef">'
            f'<PropertyValue Property="Alias" String={_a(c)}/>'
            f'<PropertyValue Property="Name" PropertyPath={_a(c)}/></Record>'
            for c in columns
        )
        + "</Collection></PropertyValue></Record>"
        for columns in entity.alternate_keys.values()
    )
    return (
        '<Annotation Term="OData.Community.Keys.V1.AlternateKeys">'
        f"<Collection>{records}</Collection></Annotation>"
    )


def _dataverse_entity(
    entity: Entity, visible: set[str], entity_sets: dict[str, str]
) -> tuple[str, str]:
    """An entity's ``EntityType`` and ``EntitySet``: a lookup is a ``_<lookup>_value``
    property plus a navigation property per target, bound to the target's set if served."""
    body = [f"<Key><PropertyRef Name={_a(entity.key[0])}/></Key>"]
    navs: list[str] = []
    bindings: list[str] = []
    for f in entity.fields:
        if f.name not in visible:
            continue
        if f.type is FieldType.LOOKUP:
            body.append(_property(f"_{f.name}_value", "Edm.Guid"))
            for target in f.targets:
                nav = f"{f.name}_{target}" if f.polymorphic else f.name
                navs.append(
                    f"<NavigationProperty Name={_a(nav)} Type={_a('mscrm.' + target)}>"
                    f"<ReferentialConstraint Property={_a(f'_{f.name}_value')} "
                    f"ReferencedProperty={_a(target + 'id')}/></NavigationProperty>"
                )
                if target in entity_sets:
                    bindings.append(
                        f"<NavigationPropertyBinding Path={_a(nav)} "
                        f"Target={_a(entity_sets[target])}/>"
                    )
        else:
            body.append(_property(f.name, _EDM[f.type], f))
    entity_type = (
        f"<EntityType Name={_a(entity.name)}>{''.join(body)}{''.join(navs)}"
        f"{_alternate_keys(entity)}</EntityType>"
    )
    entity_set = (
        f"<EntitySet Name={_a(entity.entity_set)} "
        f"EntityType={_a('Microsoft.Dynamics.CRM.' + entity.name)}>{''.join(bindings)}"
        "</EntitySet>"
    )
    return entity_type, entity_set


def _solution_type() -> str:
    """The solution table, which the emulator serves besides the sandbox's entities (p2c
    reads it to tell which solutions are installed)."""
    return (
        '<EntityType Name="solution"><Key><PropertyRef Name="solutionid"/></Key>'
        + "".join(
            _property(n, t)
            for n, t in (
                ("solutionid", "Edm.Guid"),
                ("uniquename", "Edm.String"),
                ("friendlyname", "Edm.String"),
                ("version", "Edm.String"),
                ("ismanaged", "Edm.Boolean"),
                ("installedon", "Edm.DateTimeOffset"),
            )
        )
        + "</EntityType>"
    )


# The ``WhoAmI`` function and its answer's type, which the emulator also serves.
_WHO_AM_I = (
    '<ComplexType Name="WhoAmIResponse">'
    '<Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/>'
    '<Property Name="UserId" Type="Edm.Guid" Nullable="false"/>'
    '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/></ComplexType>'
    '<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false"/>'
    "</Function>"
)


def dataverse_csdl(entities: Iterable[tuple[Entity, set[str]]], entity_sets: dict[str, str]) -> str:
    """The Dataverse CSDL: entity types with ``_<lookup>_value`` properties and single-valued
    navigation properties (one per target of a polymorphic lookup), the entity sets, and the
    solution table and ``WhoAmI`` function that the emulator also serves.

    Args:
        entities: Each entity with its visible columns.
        entity_sets: Logical name -> entity set.
    """
    types: list[str] = []
    sets: list[str] = []
    for entity, visible in entities:
        entity_type, entity_set = _dataverse_entity(entity, visible, entity_sets)
        types.append(entity_type)
        sets.append(entity_set)
    types.append(_solution_type())
    sets.append('<EntitySet Name="solutions" EntityType="Microsoft.Dynamics.CRM.solution"/>')
    return (
        _HEAD + '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
        'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(types)
        + _WHO_AM_I
        + '<EntityContainer Name="System">'
        + "".join(sets)
        + '<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI"/>'
        "</EntityContainer></Schema>" + _TAIL
    )


def enum_type_name(f: Field) -> str:
    """The F&O enum type of an enum or NoYes field."""
    if f.type is FieldType.NOYES:
        return "NoYes"
    return _FINOPS_ENUMS.get(tuple(f.options), f"{f.name}Enum")


def keyed_csdl(entities: Iterable[Entity]) -> str:
    """The F&O (and CDS hub) CSDL: data entities with their keys and enum types."""
    namespace = "Microsoft.Dynamics.DataEntities"
    types: list[str] = []
    sets: list[str] = []
    enums: dict[str, tuple[str, ...]] = {}
    for entity in entities:
        body = ["<Key>" + "".join(f"<PropertyRef Name={_a(k)}/>" for k in entity.key) + "</Key>"]
        for f in entity.fields:
            if f.type in (FieldType.ENUM, FieldType.NOYES):
                name = enum_type_name(f)
                enums[name] = ("No", "Yes") if f.type is FieldType.NOYES else tuple(f.options)
                body.append(_property(f.name, f"{namespace}.{name}"))
            else:
                body.append(_property(f.name, _EDM[f.type], f))
        types.append(f"<EntityType Name={_a(entity.name)}>{''.join(body)}</EntityType>")
        sets.append(
            f"<EntitySet Name={_a(entity.entity_set)} "
            f"EntityType={_a(namespace + '.' + entity.name)}/>"
        )
    enum_xml = "".join(
        f"<EnumType Name={_a(name)}>"
        + "".join(f"<Member Name={_a(m)} Value={_a(i)}/>" for i, m in enumerate(members))
        + "</EnumType>"
        for name, members in enums.items()
    )
    return (
        _HEAD
        + f'<Schema Namespace="{namespace}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + enum_xml
        + "".join(types)
        + '<EntityContainer Name="Resources">'
        + "".join(sets)
        + "</EntityContainer></Schema>"
        + _TAIL
    )
