"""The CDS hub of the via-CDS generation (Common Data Service 1.0, organization ``ORG001``),
and the rules of its entities.

Contact and Account carry the CDS 1.0 field names the templates of that generation use:
``Organization_OrganizationId``, ``PrimaryAccount_Organization_OrganizationId``,
``PrimaryAccountRole`` and so on (reference notes §5.5, seed 001). Records are keyed by
organization and number, as the Data Integrator's integration keys were.
"""

from __future__ import annotations

__all__ = ["AccountRules", "CDSHub", "ContactRules", "OrganizationRules"]

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from p2c.dynamics import CDS, DEFAULT_ORGANIZATION
from p2c.sandbox._keyed import KeyedSystem
from p2c.sandbox._rules import EntityRules, Rejection, register_rules
from p2c.sandbox._setwise import SetRules
from p2c.sandbox._store import chunks

_ORGANIZATION_FIELDS = ("Organization_OrganizationId", "PrimaryAccount_Organization_OrganizationId")


class CDSHub(KeyedSystem):
    """Local Common Data Service 1.0 hub."""

    model = CDS

    def initialize(self) -> None:
        self.upsert("Organization", [{"OrganizationId": DEFAULT_ORGANIZATION, "Name": "Contoso"}])

    def organizations(self) -> set[str]:
        return {r[0] for r in self.store.db.execute('SELECT "OrganizationId" FROM "Organization"')}


class _Batch(NamedTuple):
    """What the rules of a batch read at once: the organizations, and which of the batch's
    primary accounts (organization, account number) exist."""

    organizations: set[str]
    accounts: set[tuple[str, str]]


class OrganizationRules(EntityRules[CDSHub]):
    """``Organization``: taken as given."""


class _OrganizationRecordRules(EntityRules[CDSHub]):
    """A record of an organization: the organizations it names must exist."""

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> _Batch:
        return _Batch(self.system.organizations(), set())

    def set_wise(self) -> SetRules:
        return SetRules(flags=tuple(self.flags()))

    def flags(self) -> list[str]:
        """``validate`` in SQL over the page (``s``): an organization named and unknown."""
        organizations = _q(self.system.entity("Organization").name)
        return [
            f"{_filled(f)} AND NOT EXISTS (SELECT 1 FROM {organizations} AS o "
            f'WHERE o."OrganizationId" = s.{_q(f)})'
            for f in _ORGANIZATION_FIELDS
            if f in self.entity.by_name
        ]

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        organizations = context.organizations
        for field in _ORGANIZATION_FIELDS:
            value = row.get(field)
            if value and value not in organizations:
                return Rejection(
                    field,
                    f"Organization '{value}' does not exist in CDS; "
                    f"organizations: {', '.join(sorted(organizations))}.",
                )
        return None


class AccountRules(_OrganizationRecordRules):
    """``Account``: a known organization and a name."""

    def flags(self) -> list[str]:
        return [*super().flags(), f"{_empty('Name')} AND {_empty('LastName')}"]

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        rejection = super().validate(row, existing, context)
        if rejection is None and not (row.get("Name") or row.get("LastName")):
            return Rejection("Name", "Account Name is required.")
        return rejection


class ContactRules(_OrganizationRecordRules):
    """``Contact``: a known organization, a last name, and its company (primary account)
    synchronized before it."""

    def flags(self) -> list[str]:
        accounts = _q(self.system.entity("Account").name)
        organization = (
            "COALESCE(NULLIF(s.\"PrimaryAccount_Organization_OrganizationId\", ''), "
            's."Organization_OrganizationId")'
        )
        return [
            *super().flags(),
            _empty("LastName"),
            f"{_filled('PrimaryAccount_AccountNumber')} AND NOT EXISTS (SELECT 1 FROM "
            f'{accounts} AS a WHERE a."Organization_OrganizationId" = {organization} '
            'AND a."AccountNumber" = s."PrimaryAccount_AccountNumber")',
        ]

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> _Batch:
        """The organizations, and which of the batch's primary accounts exist: two queries
        per batch, none per record."""
        by_org: dict[str, list[str]] = {}
        for pair in {_primary_account(r) for r in rows}:
            if pair is not None:
                by_org.setdefault(pair[0], []).append(pair[1])
        accounts: set[tuple[str, str]] = set()
        for org, numbers in by_org.items():
            for part in chunks(numbers):
                marks = ", ".join("?" * len(part))
                accounts.update(
                    (org, r[0])
                    for r in self.system.store.db.execute(
                        'SELECT "AccountNumber" FROM "Account" '
                        f'WHERE "Organization_OrganizationId" = ? AND "AccountNumber" IN ({marks})',
                        [org, *part],
                    )
                )
        return _Batch(self.system.organizations(), accounts)

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        rejection = super().validate(row, existing, context)
        if rejection is not None:
            return rejection
        if not row.get("LastName"):
            return Rejection("LastName", "Contact LastName is required.")
        primary = _primary_account(row)
        # A company kept from the stored record was not in the batch's lookup.
        if primary is not None and primary not in context.accounts and not self._has(*primary):
            org, account = primary
            return Rejection(
                "PrimaryAccount_AccountNumber",
                f"Account '{account}' of organization '{org}' does not exist "
                "in CDS. Synchronize accounts first.",
            )
        return None

    def _has(self, organization: str, account: str) -> bool:
        found = self.system.store.scalar(
            'SELECT 1 FROM "Account" WHERE "Organization_OrganizationId" = ? '
            'AND "AccountNumber" = ?',
            (organization, account),
        )
        return found is not None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _filled(column: str) -> str:
    return f"COALESCE(s.{_q(column)}, '') <> ''"


def _empty(column: str) -> str:
    return f"COALESCE(s.{_q(column)}, '') = ''"


def _primary_account(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """(organization, account number) of a contact's company, when it has one."""
    account = row.get("PrimaryAccount_AccountNumber")
    if not account:
        return None
    own = row["Organization_OrganizationId"]
    return row.get("PrimaryAccount_Organization_OrganizationId") or own, account


register_rules("cds", "Organization", OrganizationRules)
register_rules("cds", "Account", AccountRules)
register_rules("cds", "Contact", ContactRules)
