"""The CDS hub of the via-CDS generation (Common Data Service 1.0, organization ``ORG001``).

Contact and Account carry the CDS 1.0 field names the templates of that generation use:
``Organization_OrganizationId``, ``PrimaryAccount_Organization_OrganizationId``,
``PrimaryAccountRole`` and so on (reference notes §5.5, seed 001). Records are keyed by
organization and number, as the Data Integrator's integration keys were.
"""

from __future__ import annotations

__all__ = ["CDS_ENTITIES", "DEFAULT_ORGANIZATION", "CDSHub"]

from collections.abc import Mapping
from typing import Any

from p2c.sandbox._keyed import KeyedSystem, Rejection
from p2c.sandbox._schema import Entity, Field, FieldType

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
    ),
    Entity(
        "Organization",
        "Organization",
        (Field("OrganizationId", S, 10, required=True), Field("Name", S, 100)),
        key=("OrganizationId",),
    ),
)


class CDSHub(KeyedSystem):
    """Local Common Data Service 1.0 hub."""

    entities = CDS_ENTITIES
    name = "CDS"

    def initialize(self) -> None:
        self.upsert("Organization", [{"OrganizationId": DEFAULT_ORGANIZATION, "Name": "Contoso"}])

    def validate(
        self, entity: Entity, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if entity.name == "Organization":
            return None
        organizations = self._organizations()
        for field in ("Organization_OrganizationId", "PrimaryAccount_Organization_OrganizationId"):
            value = row.get(field)
            if value and value not in organizations:
                return Rejection(
                    field,
                    f"Organization '{value}' does not exist in CDS; "
                    f"organizations: {', '.join(sorted(organizations))}.",
                )
        if entity.name == "Account" and not (row.get("Name") or row.get("LastName")):
            return Rejection("Name", "Account Name is required.")
        if entity.name == "Contact":
            if not row.get("LastName"):
                return Rejection("LastName", "Contact LastName is required.")
            account = row.get("PrimaryAccount_AccountNumber")
            if account:
                org = (
                    row.get("PrimaryAccount_Organization_OrganizationId")
                    or row["Organization_OrganizationId"]
                )
                found = self.store.db.execute(
                    'SELECT 1 FROM "Account" WHERE "Organization_OrganizationId" = ? '
                    'AND "AccountNumber" = ?',
                    (org, account),
                ).fetchone()
                if found is None:
                    return Rejection(
                        "PrimaryAccount_AccountNumber",
                        f"Account '{account}' of organization '{org}' does not exist "
                        "in CDS. Synchronize accounts first.",
                    )
        return None

    def _organizations(self) -> set[str]:
        return {r[0] for r in self.store.db.execute('SELECT "OrganizationId" FROM "Organization"')}
