"""The CDS hub of the via-CDS generation (Common Data Service 1.0, organization ``ORG001``).

Contact and Account carry the CDS 1.0 field names the templates of that generation use:
``Organization_OrganizationId``, ``PrimaryAccount_Organization_OrganizationId``,
``PrimaryAccountRole`` and so on (reference notes §5.5, seed 001). Records are keyed by
organization and number, as the Data Integrator's integration keys were.
"""

from __future__ import annotations

__all__ = ["CDSHub"]

from collections.abc import Mapping, Sequence
from typing import Any

from p2c.dynamics import CDS_ENTITIES, DEFAULT_ORGANIZATION, Entity
from p2c.sandbox._keyed import KeyedSystem, Rejection
from p2c.sandbox._store import chunks


class CDSHub(KeyedSystem):
    """Local Common Data Service 1.0 hub."""

    entities = CDS_ENTITIES
    name = "CDS"

    def initialize(self) -> None:
        self.upsert("Organization", [{"OrganizationId": DEFAULT_ORGANIZATION, "Name": "Contoso"}])

    def prepare_batch(self, entity: Entity, rows: Sequence[dict[str, Any]]) -> Any:
        """The organizations, and which of the batch's primary accounts exist: two queries
        per batch, none per record."""
        organizations = {
            r[0] for r in self.store.db.execute('SELECT "OrganizationId" FROM "Organization"')
        }
        accounts: set[tuple[str, str]] = set()
        if entity.name == "Contact":
            wanted = {_primary_account(r) for r in rows}
            by_org: dict[str, list[str]] = {}
            for pair in wanted:
                if pair is not None:
                    by_org.setdefault(pair[0], []).append(pair[1])
            account = self.entity("Account")
            for org, numbers in by_org.items():
                for part in chunks(numbers):
                    marks = ", ".join("?" * len(part))
                    accounts.update(
                        (org, r[0])
                        for r in self.store.db.execute(
                            f'SELECT "AccountNumber" FROM "{account.name}" '
                            f'WHERE "Organization_OrganizationId" = ? '
                            f'AND "AccountNumber" IN ({marks})',
                            [org, *part],
                        )
                    )
        return organizations, accounts

    def validate(
        self, entity: Entity, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if entity.name == "Organization":
            return None
        organizations, accounts = context
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
            primary = _primary_account(row)
            # A company kept from the stored record was not in the batch's lookup.
            if primary is not None and primary not in accounts and not self._has(*primary):
                org, account = primary
                return Rejection(
                    "PrimaryAccount_AccountNumber",
                    f"Account '{account}' of organization '{org}' does not exist "
                    "in CDS. Synchronize accounts first.",
                )
        return None

    def _has(self, organization: str, account: str) -> bool:
        found = self.store.db.execute(
            'SELECT 1 FROM "Account" WHERE "Organization_OrganizationId" = ? '
            'AND "AccountNumber" = ?',
            (organization, account),
        ).fetchone()
        return found is not None


def _primary_account(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """(organization, account number) of a contact's company, when it has one."""
    account = row.get("PrimaryAccount_AccountNumber")
    if not account:
        return None
    own = row["Organization_OrganizationId"]
    return row.get("PrimaryAccount_Organization_OrganizationId") or own, account
