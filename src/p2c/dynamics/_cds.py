"""The CDS hub of the via-CDS generation (Common Data Service 1.0, organization ``ORG001``).

Contact and Account carry the CDS 1.0 field names the templates of that generation use:
``Organization_OrganizationId``, ``PrimaryAccount_Organization_OrganizationId``,
``PrimaryAccountRole`` and so on (reference notes §5.5, seed 001). Records are keyed by
organization and number, as the Data Integrator's integration keys were.
"""

from __future__ import annotations

__all__ = ["CDS_ENTITIES", "DEFAULT_ORGANIZATION"]

from p2c.dynamics._model import Activity, Entity, Field, FieldType

S, M, B, E = FieldType.STRING, FieldType.MONEY, FieldType.BOOL, FieldType.ENUM
D = FieldType.DATETIME
DEFAULT_ORGANIZATION = "ORG001"
ROLES = ("Decision", "Employee", "Influencer")


def _common(number: str) -> tuple[Field, ...]:
    return (
        Field("Organization_OrganizationId", S, 10, required=True, label="Organization ID"),
        Field(number, S, 20, required=True),
        Field("FirstName", S, 50),
        Field("MiddleName", S, 50),
        Field("LastName", S, 50),
        Field("Description", S, 2000),
        Field("PrimaryEmail", S, 100),
        Field("PrimaryPhone", S, 50),
        Field("Fax", S, 50),
        Field("Website", S, 200),
        Field("MailingAddress_Line1", S, 250),
        Field("MailingAddress_City", S, 80),
        Field("MailingAddress_StateOrProvince", S, 50),
        Field("MailingAddress_PostalCode", S, 20),
        Field("MailingAddress_County", S, 50),
        Field("MailingAddress_Country", S, 80),
        Field("Currency_CurrencyCode", S, 5),
        Field("ModifiedOn", D, read_only=True, label="Modified on"),
    )


CDS_ENTITIES = (
    Entity(
        "Contact",
        "Contact",
        (
            *_common("ContactNumber"),
            Field("JobTitle", S, 100),
            Field("Department", S, 100),
            Field("Gender", E, options=("Male", "Female")),
            Field("MaritalStatus", E, options=("Single", "Married", "Divorced", "Widowed")),
            Field("SpouseName", S, 100),
            Field("GovernmentId", S, 50),
            Field("DoNotEmail", B),
            Field("PrimaryAccount_AccountNumber", S, 20, label="Company"),
            Field("PrimaryAccount_Organization_OrganizationId", S, 10, label="Organization ID"),
            Field("PrimaryAccountRole", E, options=ROLES, label="Role"),
            Field("StateCode", E, options=("Active", "Inactive"), label="Status"),
        ),
        key=("Organization_OrganizationId", "ContactNumber"),
        modified_field="ModifiedOn",
        organization="Organization_OrganizationId",
        activity=Activity("StateCode", "Active", "Inactive"),
        names=(("FirstName", "LastName"),),
    ),
    Entity(
        "Account",
        "Account",
        (
            *_common("AccountNumber"),
            Field("Name", S, 160),
            Field("PartyType", E, options=("Organization", "Person")),
            Field("CreditLimit", M),
        ),
        key=("Organization_OrganizationId", "AccountNumber"),
        modified_field="ModifiedOn",
        organization="Organization_OrganizationId",
        names=(("Name",), ("FirstName", "LastName")),
    ),
    Entity(
        "Organization",
        "Organization",
        (Field("OrganizationId", S, 10, required=True), Field("Name", S, 100)),
        key=("OrganizationId",),
    ),
)
