"""The sandbox Finance and Operations: data entities that reject what F&O rejects.

The system holds the tables and the reference data its rules read; the rules of each
entity are in ``_finops_rules.py``, registered when the package is imported.
"""

from __future__ import annotations

__all__ = ["FinOpsSandbox", "Reference"]

from dataclasses import dataclass
from pathlib import Path

from p2c.dynamics import FINOPS, REFERENCE_DATA
from p2c.sandbox._keyed import KeyedSystem


@dataclass
class Reference:
    """The reference data F&O's rules check values against."""

    companies: dict[str, str]  # legal entity -> accounting currency
    groups: set[tuple[str, str]]
    countries: set[str]  # CountryRegion ids and ISO codes
    languages: set[str]
    currencies: set[str]
    roles: set[str]
    sites: set[tuple[str, str]]
    warehouses: dict[tuple[str, str], str]  # (company, warehouse) -> site


class FinOpsSandbox(KeyedSystem):
    """Local Dynamics 365 Finance and Operations.

    Args:
        path: The SQLite file.
        create: Create the file when missing.
    """

    model = FINOPS

    def __init__(self, path: Path, *, create: bool = False) -> None:
        super().__init__(path, create=create)
        self._reference: Reference | None = None

    def initialize(self) -> None:
        for entity_set, rows in REFERENCE_DATA.items():
            self.upsert(entity_set, rows)

    def legal_entities(self) -> list[str]:
        return sorted(self.reference.companies)

    @property
    def reference(self) -> Reference:
        """The reference data, read once and again after a write to it. Parties are not in
        it: every sync writes them, so the rules read them per batch."""
        if self._reference is None:
            rows = {
                s: list(self.export(s))
                for s in (
                    "LegalEntities",
                    "CustomerGroups",
                    "AddressCountryRegions",
                    "Languages",
                    "Currencies",
                    "DecisionMakingRoles",
                    "OperationalSites",
                    "Warehouses",
                )
            }
            self._reference = Reference(
                companies={
                    r["LegalEntityId"]: r["AccountingCurrency"] for r in rows["LegalEntities"]
                },
                groups={(r["dataAreaId"], r["CustomerGroupId"]) for r in rows["CustomerGroups"]},
                countries={r["CountryRegion"] for r in rows["AddressCountryRegions"]}
                | {r["ISOCode"] for r in rows["AddressCountryRegions"]},
                languages={r["LanguageId"] for r in rows["Languages"]},
                currencies={r["CurrencyCode"] for r in rows["Currencies"]},
                roles={r["DecisionMakingRoleCode"] for r in rows["DecisionMakingRoles"]},
                sites={(r["dataAreaId"], r["SiteId"]) for r in rows["OperationalSites"]},
                warehouses={
                    (r["dataAreaId"], r["WarehouseId"]): r["OperationalSiteId"]
                    for r in rows["Warehouses"]
                },
            )
        return self._reference

    def reference_changed(self) -> None:
        """Reference data was written: read it again when next needed."""
        self._reference = None

    def next_party_number(self) -> str:
        """The next number of the sandbox's party sequence (``000000001``, …)."""
        number = int(self.store.setting("sequence:party", "1") or 1)
        self.store.set_setting("sequence:party", str(number + 1))
        return f"{number:09d}"
