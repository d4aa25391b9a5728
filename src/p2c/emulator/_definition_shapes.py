"""The names and shapes of Dataverse table definitions: the properties of each metadata
type, and the facts of the platform tables that the model of Sales does not hold (schema
names, object type codes, primary name columns, relationship names)."""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_BASE",
    "ENTITY_PROPERTIES",
    "OBJECT_TYPE_CODES",
    "PRIMARY_NAMES",
    "RELATIONSHIP_NAMES",
    "SCHEMA_NAMES",
    "derived_properties",
    "derived_type",
    "derived_types",
]

# Object type codes of the Dataverse table reference; a custom table gets one over 10000.
OBJECT_TYPE_CODES = {
    "account": 1,
    "contact": 2,
    "businessunit": 10,
    "transactioncurrency": 9105,
    "quote": 1084,
    "salesorder": 1088,
    "invoice": 1090,
}
SCHEMA_NAMES = {
    "account": "Account",
    "contact": "Contact",
    "businessunit": "BusinessUnit",
    "transactioncurrency": "TransactionCurrency",
    "quote": "Quote",
    "salesorder": "SalesOrder",
    "invoice": "Invoice",
    "msdynce_p2cautonumber": "msdynce_P2CAutoNumber",
}
PRIMARY_NAMES = {
    "contact": "fullname",
    "transactioncurrency": "currencyname",
    "msdynce_p2cautonumber": "msdynce_name",
}
# Relationship schema names of the Dataverse table reference: (referencing entity, lookup,
# referenced entity) -> name. Others are named <referenced>_<referencing>_<lookup>.
RELATIONSHIP_NAMES = {
    ("contact", "parentcustomerid", "account"): "contact_customer_accounts",
    ("contact", "parentcustomerid", "contact"): "contact_customer_contacts",
    ("account", "primarycontactid", "contact"): "account_primary_contact",
    ("account", "parentaccountid", "account"): "account_parent_account",
    ("quote", "customerid", "account"): "quote_customer_accounts",
    ("quote", "customerid", "contact"): "quote_customer_contacts",
    ("salesorder", "customerid", "account"): "order_customer_accounts",
    ("salesorder", "customerid", "contact"): "order_customer_contacts",
    ("invoice", "customerid", "account"): "invoice_customer_accounts",
    ("invoice", "customerid", "contact"): "invoice_customer_contacts",
    ("salesorder", "quoteid", "quote"): "quote_orders",
    ("invoice", "salesorderid", "salesorder"): "order_invoices",
    ("businessunit", "parentbusinessunitid", "businessunit"): "business_unit_parent_business_unit",
}

ENTITY_PROPERTIES = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "CollectionSchemaName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ObjectTypeCode",
    "DisplayName",
    "DisplayCollectionName",
    "Description",
    "IsCustomEntity",
    "IsManaged",
    "IsPrivate",
    "IsActivity",
    "IsIntersect",
    "IsLogicalEntity",
    "IsValidForAdvancedFind",
    "OwnershipType",
    "ChangeTrackingEnabled",
    "HasActivities",
    "HasNotes",
    "TableType",
    "IntroducedVersion",
    "EntityColor",
)
ATTRIBUTE_BASE = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntityLogicalName",
    "AttributeType",
    "AttributeTypeName",
    "AttributeOf",
    "ColumnNumber",
    "DisplayName",
    "Description",
    "IsPrimaryId",
    "IsPrimaryName",
    "IsCustomAttribute",
    "IsManaged",
    "IsLogical",
    "IsValidForCreate",
    "IsValidForUpdate",
    "IsValidForRead",
    "IsValidODataAttribute",
    "RequiredLevel",
    "IntroducedVersion",
    "SourceType",
)
# Derived attribute types: AttributeType -> (metadata type, its own properties).
_DERIVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "String": ("StringAttributeMetadata", ("MaxLength", "Format", "FormatName", "DatabaseLength")),
    "Memo": ("MemoAttributeMetadata", ("MaxLength", "Format", "DatabaseLength")),
    "Integer": ("IntegerAttributeMetadata", ("MinValue", "MaxValue", "Format")),
    "Money": ("MoneyAttributeMetadata", ("MinValue", "MaxValue", "Precision", "PrecisionSource")),
    "Boolean": ("BooleanAttributeMetadata", ("DefaultValue", "OptionSet")),
    "DateTime": ("DateTimeAttributeMetadata", ("Format", "DateTimeBehavior")),
    "Picklist": ("PicklistAttributeMetadata", ("DefaultFormValue", "OptionSet")),
    "State": ("StateAttributeMetadata", ("DefaultFormValue", "OptionSet")),
    "Status": ("StatusAttributeMetadata", ("DefaultFormValue", "OptionSet")),
    "Lookup": ("LookupAttributeMetadata", ("Targets", "Format")),
    "Customer": ("LookupAttributeMetadata", ("Targets", "Format")),
    "Uniqueidentifier": ("UniqueIdentifierAttributeMetadata", ()),
    "EntityName": ("EntityNameAttributeMetadata", ("DefaultFormValue", "OptionSet")),
}


def derived_type(attribute_kind: str) -> str:
    return _DERIVED[attribute_kind][0]


def derived_properties(attribute_kind: str) -> tuple[str, ...]:
    return _DERIVED[attribute_kind][1]


def derived_types() -> set[str]:
    return {t for t, _ in _DERIVED.values()}
