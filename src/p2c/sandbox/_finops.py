"""The sandbox Finance and Operations: data entities that reject what F&O rejects.

Messages follow F&O's own wording ("Field 'Customer group' must be filled in.", "The value
'99' in field 'Customer group' is not found in the relating table 'Customer groups'."), with
the OData field name added so that the user can find it in a mapping.
"""

from __future__ import annotations

__all__ = ["FinOpsSandbox"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from p2c.dynamics import FINOPS_ENTITIES, REFERENCE_DATA, REFERENCE_ENTITIES, Entity
from p2c.sandbox._keyed import KeyedSystem, Rejection

_REFERENCE_SETS = {e.entity_set for e in REFERENCE_ENTITIES}
_ADDRESS_PARTS = ("Street", "City", "ZipCode", "State", "StateId")


@dataclass
class _Reference:
    companies: dict[str, str]  # legal entity -> accounting currency
    groups: set[tuple[str, str]]
    countries: set[str]  # CountryRegion ids and ISO codes
    languages: set[str]
    currencies: set[str]
    roles: set[str]
    sites: set[tuple[str, str]]
    warehouses: dict[tuple[str, str], str]  # (company, warehouse) -> site


class FinOpsSandbox(KeyedSystem):
    """Local Dynamics 365 Finance and Operations."""

    entities = FINOPS_ENTITIES
    name = "Finance and Operations"

    def initialize(self) -> None:
        for entity_set, rows in REFERENCE_DATA.items():
            self.upsert(entity_set, rows)

    def legal_entities(self) -> list[str]:
        return sorted(self.reference.companies)

    @property
    def reference(self) -> _Reference:
        cached: _Reference | None = getattr(self, "_reference", None)
        if cached is None:
            # Parties are written by every sync; the checks read them per batch instead.
            rows = {s: list(self.export(s)) for s in _REFERENCE_SETS - {"Parties"}}
            cached = _Reference(
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
            self._reference = cached
        return cached

    # hooks -----------------------------------------------------------------------------------

    def prepare_batch(self, entity: Entity, rows: Sequence[dict[str, Any]]) -> Any:
        if entity.entity_set != "CDSContactPersons":
            return None
        party = self.entity("Parties")
        return self.store.existing(party, "PartyNumber", [r["AssociatedPartyNumber"] for r in rows])

    def on_create(self, entity: Entity, row: dict[str, Any]) -> None:
        if entity.entity_set == "CustomersV2":
            row.setdefault("PartyType", "Organization")
            if row["PartyType"] is None:
                row["PartyType"] = "Organization"
            if not row.get("SalesCurrencyCode"):
                # CustTable.initValue takes the company's accounting currency.
                row["SalesCurrencyCode"] = self.reference.companies.get(row["dataAreaId"])
            if not row.get("PartyNumber"):
                row["PartyNumber"] = self._next_party_number()

    def validate(
        self, entity: Entity, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if entity.entity_set in _REFERENCE_SETS:
            return None
        ref = self.reference
        area = row["dataAreaId"]
        if area not in ref.companies:
            return Rejection(
                "dataAreaId",
                f"Company '{area}' does not exist. Legal entities: "
                f"{', '.join(sorted(ref.companies))}.",
            )
        if entity.entity_set == "CustomersV2":
            return self._validate_customer(entity, row, ref)
        return self._validate_contact_person(entity, row, ref, context)

    def after_write(self, entity: Entity, rows: Sequence[dict[str, Any]]) -> None:
        if entity.entity_set in _REFERENCE_SETS:
            self.__dict__.pop("_reference", None)
            return
        parties = []
        for row in rows:
            if entity.entity_set == "CustomersV2":
                person = row.get("PartyType") == "Person"
                name = (
                    _join(row.get("PersonFirstName"), row.get("PersonLastName"))
                    if person
                    else row.get("OrganizationName")
                )
                parties.append((row["PartyNumber"], row.get("PartyType"), name))
            else:
                parties.append(
                    (
                        row["ContactPersonPartyNumber"],
                        "Person",
                        _join(row.get("FirstName"), row.get("LastName")),
                    )
                )
        self.store.db.executemany(
            'INSERT INTO "Party" ("PartyNumber", "PartyType", "Name") VALUES (?, ?, ?) '
            'ON CONFLICT("PartyNumber") DO UPDATE SET "PartyType" = excluded."PartyType", '
            '"Name" = excluded."Name"',
            parties,
        )

    # rules -----------------------------------------------------------------------------------

    def _validate_customer(
        self, entity: Entity, row: dict[str, Any], ref: _Reference
    ) -> Rejection | None:
        area = row["dataAreaId"]
        if not row.get("CustomerGroupId"):
            return _must_fill(entity, "CustomerGroupId")
        if (area, row["CustomerGroupId"]) not in ref.groups:
            return _not_found(
                entity, "CustomerGroupId", row["CustomerGroupId"], "Customer groups", area
            )
        person = row.get("PartyType") == "Person"
        if person and not (row.get("PersonFirstName") or row.get("PersonLastName")):
            return _must_fill(entity, "PersonLastName", "for a customer of party type Person")
        if not person and not row.get("OrganizationName"):
            return _must_fill(
                entity, "OrganizationName", "for a customer of party type Organization"
            )
        for field, values, table in (
            ("SalesCurrencyCode", ref.currencies, "Currencies"),
            ("LanguageId", ref.languages, "Languages"),
        ):
            if row.get(field) and row[field] not in values:
                return _not_found(entity, field, row[field], table)
        for prefix in ("Address", "DeliveryAddress"):
            rejection = _check_address(entity, row, prefix, ref)
            if rejection:
                return rejection
        site, warehouse = row.get("SiteId"), row.get("WarehouseId")
        if site and (area, site) not in ref.sites:
            return _not_found(entity, "SiteId", site, "Sites", area)
        if warehouse:
            warehouse_site = ref.warehouses.get((area, warehouse))
            if warehouse_site is None:
                return _not_found(entity, "WarehouseId", warehouse, "Warehouses", area)
            if site and warehouse_site != site:
                return Rejection(
                    "WarehouseId",
                    f"Warehouse {warehouse} is not connected to site "
                    f"{site}; it belongs to site {warehouse_site}.",
                )
        return None

    def _validate_contact_person(
        self, entity: Entity, row: dict[str, Any], ref: _Reference, parties: set[str]
    ) -> Rejection | None:
        associated = row["AssociatedPartyNumber"]
        if associated not in parties:
            return Rejection(
                "AssociatedPartyNumber",
                f"The party '{associated}' in field 'Associated party number' "
                "(AssociatedPartyNumber) does not exist. Synchronize the company "
                "it belongs to first.",
            )
        if not (row.get("FirstName") or row.get("LastName")):
            return _must_fill(entity, "LastName")
        role = row.get("DecisionMakingRoleCode")
        if role and role not in ref.roles:
            return _not_found(entity, "DecisionMakingRoleCode", role, "Decision making roles")
        return _check_address(entity, row, "PrimaryAddress", ref)

    def _next_party_number(self) -> str:
        number = int(self.store.setting("sequence:party", "1") or 1)
        self.store.set_setting("sequence:party", str(number + 1))
        return f"{number:09d}"


def _join(first: str | None, last: str | None) -> str:
    if first and last:
        return f"{first} {last}"
    return first or last or ""


def _must_fill(entity: Entity, field: str, why: str = "") -> Rejection:
    label = entity.by_name[field].display
    return Rejection(
        field, f"Field '{label}' ({field}) must be filled in{' ' + why if why else ''}."
    )


def _not_found(
    entity: Entity, field: str, value: Any, table: str, area: str | None = None
) -> Rejection:
    label = entity.by_name[field].display
    company = f" for company '{area}'" if area else ""
    return Rejection(
        field,
        f"The value '{value}' in field '{label}' ({field}) is not found in the "
        f"relating table '{table}'{company}.",
    )


def _address_fields(prefix: str) -> tuple[str, str, tuple[str, ...]]:
    return (
        prefix + "CountryRegionISOCode",
        prefix + "CountryRegionId",
        tuple(prefix + part for part in _ADDRESS_PARTS),
    )


_ADDRESSES = {p: _address_fields(p) for p in ("Address", "DeliveryAddress", "PrimaryAddress")}


def _check_address(
    entity: Entity, row: dict[str, Any], prefix: str, ref: _Reference
) -> Rejection | None:
    iso, country, parts = _ADDRESSES[prefix]
    iso_value, country_value = row.get(iso), row.get(country)
    if iso_value or country_value:
        for name, value in ((iso, iso_value), (country, country_value)):
            if value and value not in ref.countries:
                return _not_found(entity, name, value, "Countries/regions")
        return None
    if any(row.get(part) for part in parts):
        return _must_fill(entity, iso, "when an address is given")
    return None
