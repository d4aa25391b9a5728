"""The rules of F&O's data entities in the sandbox: one class per entity.

Messages follow F&O's own wording ("Field 'Customer group' must be filled in.", "The value
'99' in field 'Customer group' is not found in the relating table 'Customer groups'."), with
the OData field name added so that the user can find it in a mapping.
"""

from __future__ import annotations

__all__ = ["ContactPersonRules", "CustomerRules", "ReferenceRules"]

from collections.abc import Mapping, Sequence
from typing import Any

from p2c.dynamics import REFERENCE_ENTITIES, Entity
from p2c.sandbox._finops import FinOpsSandbox, Reference
from p2c.sandbox._rules import EntityRules, Rejection, register_rules
from p2c.sandbox._setwise import SetRules

_ADDRESS_PARTS = ("Street", "City", "ZipCode", "State", "StateId")


class ReferenceRules(EntityRules[FinOpsSandbox]):
    """Reference data (legal entities, customer groups, countries, ...): taken as given;
    the rules of the other entities read it again after a write."""

    def after_write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.system.reference_changed()


class _CompanyRules(EntityRules[FinOpsSandbox]):
    """An entity of one legal entity (``dataAreaId``), whose records are parties."""

    def company(self, row: Mapping[str, Any]) -> Rejection | None:
        companies = self.system.reference.companies
        area = row["dataAreaId"]
        if area in companies:
            return None
        return Rejection(
            "dataAreaId",
            f"Company '{area}' does not exist. Legal entities: {', '.join(sorted(companies))}.",
        )

    # the same rules, set-wise (see _setwise.py; column ``x`` of the page is s."x") ---------

    def table(self, entity_set: str) -> str:
        return _q(self.system.entity(entity_set).name)

    def missing(self, entity_set: str, **match: str) -> str:
        """No reference record whose fields equal the page's: ``field=page column``."""
        on = " AND ".join(f"r.{_q(f)} = s.{_q(c)}" for f, c in match.items())
        return f"NOT EXISTS (SELECT 1 FROM {self.table(entity_set)} AS r WHERE {on})"

    def company_flag(self) -> str:
        return self.missing("LegalEntities", LegalEntityId="dataAreaId")

    def parties_sql(self, number: str, kind: str, name: str) -> str:
        """The parties of the rows written, in party-number order (each number once: a
        number given twice goes record by record)."""
        return (
            f'INSERT INTO {self.table("Parties")} ("PartyNumber", "PartyType", "Name") '
            f"SELECT s.{_q(number)}, {kind}, {name} FROM {{written}} ORDER BY s.{_q(number)} "
            'ON CONFLICT ("PartyNumber") DO UPDATE SET "PartyType" = excluded."PartyType", '
            '"Name" = excluded."Name"'
        )

    def write_parties(self, parties: Sequence[tuple[str, str | None, str | None]]) -> None:
        """Create or rename the party records (number, type, name) of written records."""
        self.system.store.db.executemany(
            'INSERT INTO "Party" ("PartyNumber", "PartyType", "Name") VALUES (?, ?, ?) '
            'ON CONFLICT("PartyNumber") DO UPDATE SET "PartyType" = excluded."PartyType", '
            '"Name" = excluded."Name"',
            parties,
        )


class CustomerRules(_CompanyRules):
    """``CustomersV2``: customer group, name, currency, language, addresses, site and
    warehouse; a new customer gets its party number and the company's currency."""

    def on_create(self, row: dict[str, Any]) -> None:
        if row.get("PartyType") is None:
            row["PartyType"] = "Organization"
        if not row.get("SalesCurrencyCode"):
            # CustTable.initValue takes the company's accounting currency.
            row["SalesCurrencyCode"] = self.system.reference.companies.get(row["dataAreaId"])
        if not row.get("PartyNumber"):
            row["PartyNumber"] = self.system.next_party_number()

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        rejection = self.company(row)
        if rejection:
            return rejection
        entity, ref, area = self.entity, self.system.reference, row["dataAreaId"]
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
        return _check_site(entity, row, ref)

    def set_wise(self) -> SetRules:
        entity = self.entity
        currency = (
            "CASE WHEN COALESCE(s.\"SalesCurrencyCode\", '') = '' THEN (SELECT "
            f'r."AccountingCurrency" FROM {self.table("LegalEntities")} AS r '
            'WHERE r."LegalEntityId" = s."dataAreaId") ELSE s."SalesCurrencyCode" END'
        )
        person = "s.\"PartyType\" IS 'Person'"
        flags = [
            self.company_flag(),
            _empty("CustomerGroupId"),
            self.missing(
                "CustomerGroups", dataAreaId="dataAreaId", CustomerGroupId="CustomerGroupId"
            ),
            f"{person} AND {_empty('PersonFirstName')} AND {_empty('PersonLastName')}",
            f"NOT {person} AND {_empty('OrganizationName')}",
            f"{_filled('SalesCurrencyCode')} AND "
            + self.missing("Currencies", CurrencyCode="SalesCurrencyCode"),
            f"{_filled('LanguageId')} AND " + self.missing("Languages", LanguageId="LanguageId"),
            *(_address_flag(self, entity, p) for p in ("Address", "DeliveryAddress")),
            _site_flag(self),
            # A new customer without a party number takes one of the sequence, in order.
            f"s.p2c_status = 'created' AND {_empty('PartyNumber')}",
        ]
        name = (
            f"CASE WHEN {person} THEN {_joined('PersonFirstName', 'PersonLastName')} "
            'ELSE s."OrganizationName" END'
        )
        return SetRules(
            on_create=(
                ("PartyType", "COALESCE(s.\"PartyType\", 'Organization')"),
                ("SalesCurrencyCode", currency),
            ),
            flags=tuple(flags),
            after_write=(self.parties_sql("PartyNumber", 's."PartyType"', name),),
            # A party number given twice in a page: its rows go record by record, so that
            # the party's name is the last one's, as there.
            unique=("PartyNumber",),
        )

    def after_write(self, rows: Sequence[dict[str, Any]]) -> None:
        parties = []
        for row in rows:
            person = row.get("PartyType") == "Person"
            name = (
                _join(row.get("PersonFirstName"), row.get("PersonLastName"))
                if person
                else row.get("OrganizationName")
            )
            parties.append((row["PartyNumber"], row.get("PartyType"), name))
        self.write_parties(parties)


class ContactPersonRules(_CompanyRules):
    """``CDSContactPersons``: the associated party (the company) must exist; a name, the
    decision making role and the address are checked."""

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """The batch's associated parties that exist."""
        party = self.system.entity("Parties")
        numbers = [r["AssociatedPartyNumber"] for r in rows]
        return self.system.store.existing(party, "PartyNumber", numbers)

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        rejection = self.company(row)
        if rejection:
            return rejection
        entity, ref = self.entity, self.system.reference
        associated = row["AssociatedPartyNumber"]
        if associated not in context:
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

    def set_wise(self) -> SetRules:
        flags = [
            self.company_flag(),
            self.missing("Parties", PartyNumber="AssociatedPartyNumber"),
            f"{_empty('FirstName')} AND {_empty('LastName')}",
            f"{_filled('DecisionMakingRoleCode')} AND "
            + self.missing("DecisionMakingRoles", DecisionMakingRoleCode="DecisionMakingRoleCode"),
            _address_flag(self, self.entity, "PrimaryAddress"),
        ]
        name = _joined("FirstName", "LastName")
        return SetRules(
            flags=tuple(flags),
            after_write=(self.parties_sql("ContactPersonPartyNumber", "'Person'", name),),
            unique=("ContactPersonPartyNumber",),
        )

    def after_write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.write_parties(
            [
                (
                    row["ContactPersonPartyNumber"],
                    "Person",
                    _join(row.get("FirstName"), row.get("LastName")),
                )
                for row in rows
            ]
        )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _filled(column: str) -> str:
    """The page's field is given (not null, not empty): Python's truth of a text."""
    return f"COALESCE(s.{_q(column)}, '') <> ''"


def _empty(column: str) -> str:
    return f"COALESCE(s.{_q(column)}, '') = ''"


def _joined(first: str, last: str) -> str:
    """``_join`` in SQL."""
    f, la = f"s.{_q(first)}", f"s.{_q(last)}"
    return (
        f"CASE WHEN {_filled(first)} AND {_filled(last)} THEN {f} || ' ' || {la} "
        f"ELSE COALESCE(NULLIF({f}, ''), NULLIF({la}, ''), '') END"
    )


def _address_flag(rules: _CompanyRules, entity: Entity, prefix: str) -> str:
    """``_check_address`` in SQL: a country or ISO code given must exist; else an address
    part given needs one."""
    iso, country, parts = _ADDRESSES[prefix]
    countries = rules.table("AddressCountryRegions")

    # Neither column is indexed for the other's lookup: one list of both, made once per
    # statement, instead of a scan of the table per row (NULLs left out: NOT IN a list
    # with a NULL is never true).
    known = (
        f'SELECT "CountryRegion" FROM {countries} WHERE "CountryRegion" IS NOT NULL '
        f'UNION SELECT "ISOCode" FROM {countries} WHERE "ISOCode" IS NOT NULL'
    )

    def unknown(column: str) -> str:
        return f"({_filled(column)} AND s.{_q(column)} NOT IN ({known}))"

    given = [c for c in (iso, country) if c in entity.by_name]
    present = [p for p in parts if p in entity.by_name]
    any_given = " OR ".join(_filled(c) for c in given) or "0"
    bad = " OR ".join(unknown(c) for c in given) or "0"
    any_part = " OR ".join(_filled(p) for p in present) or "0"
    return f"CASE WHEN {any_given} THEN {bad} ELSE {any_part} END"


def _site_flag(rules: _CompanyRules) -> str:
    """``_check_site`` in SQL."""
    warehouses = rules.table("Warehouses")
    in_company = 'w."dataAreaId" = s."dataAreaId" AND w."WarehouseId" = s."WarehouseId"'
    return (
        f"({_filled('SiteId')} AND "
        + rules.missing("OperationalSites", dataAreaId="dataAreaId", SiteId="SiteId")
        + f") OR ({_filled('WarehouseId')} AND NOT EXISTS (SELECT 1 FROM {warehouses} AS w "
        f"WHERE {in_company})) OR ({_filled('SiteId')} AND {_filled('WarehouseId')} AND "
        f"EXISTS (SELECT 1 FROM {warehouses} AS w WHERE {in_company} "
        'AND w."OperationalSiteId" IS NOT s."SiteId"))'
    )


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
    entity: Entity, row: dict[str, Any], prefix: str, ref: Reference
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


def _check_site(entity: Entity, row: dict[str, Any], ref: Reference) -> Rejection | None:
    """The site and warehouse exist in the company, and the warehouse is the site's."""
    area, site, warehouse = row["dataAreaId"], row.get("SiteId"), row.get("WarehouseId")
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


register_rules("finops", "CustomersV2", CustomerRules)
register_rules("finops", "CDSContactPersons", ContactPersonRules)
for _reference in REFERENCE_ENTITIES:
    register_rules("finops", _reference.entity_set, ReferenceRules)
