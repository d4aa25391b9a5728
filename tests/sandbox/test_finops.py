from __future__ import annotations

import enum
from typing import Any

import pytest

from p2c.sandbox import FinOpsSandbox

CUSTOMER = {
    "dataAreaId": "usmf",
    "CustomerAccount": "ACC-01000-AAAAAA",
    "PartyNumber": "ACC-01000-AAAAAA",
    "PartyType": "Organization",
    "OrganizationName": "Fabrikam",
    "CustomerGroupId": "10",
    "IsExternallyMaintained": "Yes",
}


def test_create_update_unchanged(finops: FinOpsSandbox) -> None:
    assert [o.status for o in finops.upsert("CustomersV2", [CUSTOMER])] == ["created"]
    assert [o.status for o in finops.upsert("CustomersV2", [CUSTOMER])] == ["unchanged"]
    changed = {**CUSTOMER, "OrganizationName": "Fabrikam Inc"}
    assert [o.status for o in finops.upsert("CustomersV2", [changed])] == ["updated"]
    (stored,) = finops.export("CustomersV2")
    assert stored["OrganizationName"] == "Fabrikam Inc"
    assert stored["SalesCurrencyCode"] == "USD"  # the company's currency
    assert stored["IsExternallyMaintained"] == "Yes"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"CustomerGroupId": None}, "CustomerGroupId", "must be filled in"),
        ({"CustomerGroupId": "99"}, "CustomerGroupId", "'99'"),
        ({"dataAreaId": "xxxx"}, "dataAreaId", "Company 'xxxx' does not exist"),
        ({"LanguageId": "tlh"}, "LanguageId", "'tlh'"),
        ({"AddressCountryRegionISOCode": "ATL"}, "AddressCountryRegionISOCode", "'ATL'"),
        ({"AddressCity": "Oslo"}, "AddressCountryRegionISOCode", "must be filled in"),
        ({"OrganizationName": "x" * 101}, "OrganizationName", "maximum length is 100"),
        ({"CustomerAccount": ""}, "CustomerAccount", "entity key"),
        ({"SiteId": "9"}, "SiteId", "'9'"),
        ({"SiteId": "2", "WarehouseId": "13"}, "WarehouseId", "not connected to site 2"),
        ({"IsExternallyMaintained": "Maybe"}, "IsExternallyMaintained", "'Maybe'"),
        ({"Colour": "red"}, "Colour", "does not exist on type"),
    ],
)
def test_rejections_name_field_and_value(
    finops: FinOpsSandbox, change: dict[str, Any], field: str, words: str
) -> None:
    good = {**CUSTOMER, "CustomerAccount": "GOOD", "PartyNumber": "GOOD"}
    outcomes = finops.upsert("CustomersV2", [good, {**CUSTOMER, **change}])
    assert outcomes[0].status == "created"
    assert outcomes[1].status == "failed"
    assert outcomes[1].field == field
    assert words in (outcomes[1].message or "")
    assert finops.count("CustomersV2") == 1


def test_contact_person_needs_an_existing_associated_party(finops: FinOpsSandbox) -> None:
    person = {
        "dataAreaId": "usmf",
        "ContactPersonPartyNumber": "CON-01000-BVRCPS",
        "AssociatedPartyNumber": "ACC-01000-AAAAAA",
        "LastName": "Lee",
        "IsContactPersonExternallyMaintained": "Yes",
    }
    (first,) = finops.upsert("CDSContactPersons", [person])
    assert first.status == "failed" and first.field == "AssociatedPartyNumber"
    finops.upsert("CustomersV2", [CUSTOMER])
    (second,) = finops.upsert("CDSContactPersons", [person])
    assert second.status == "created"
    (stored,) = finops.export("CDSContactPersons")
    assert stored["IsContactPersonExternallyMaintained"] == "Yes"


def test_unknown_decision_role_is_rejected(finops: FinOpsSandbox) -> None:
    finops.upsert("CustomersV2", [CUSTOMER])
    person = {
        "dataAreaId": "usmf",
        "ContactPersonPartyNumber": "C1",
        "AssociatedPartyNumber": "ACC-01000-AAAAAA",
        "LastName": "Lee",
        "DecisionMakingRoleCode": "Boss",
    }
    (outcome,) = finops.upsert("CDSContactPersons", [person])
    assert outcome.field == "DecisionMakingRoleCode" and "'Boss'" in (outcome.message or "")


def test_person_customer_needs_a_name(finops: FinOpsSandbox) -> None:
    person = {
        "dataAreaId": "usmf",
        "CustomerAccount": "CON-01000-BVRCPS",
        "PartyType": "Person",
        "CustomerGroupId": "10",
    }
    (nameless,) = finops.upsert("CustomersV2", [person])
    assert nameless.status == "failed"
    assert nameless.field == "PersonLastName"
    assert "party type Person" in (nameless.message or "")
    (named,) = finops.upsert("CustomersV2", [{**person, "PersonFirstName": "Ann"}])
    assert named.status == "created"


def test_organization_customer_needs_a_name(finops: FinOpsSandbox) -> None:
    (outcome,) = finops.upsert("CustomersV2", [{**CUSTOMER, "OrganizationName": None}])
    assert (outcome.status, outcome.field) == ("failed", "OrganizationName")


def test_party_number_is_generated_and_a_party_created(finops: FinOpsSandbox) -> None:
    without = {k: v for k, v in CUSTOMER.items() if k != "PartyNumber"}
    second = {**without, "CustomerAccount": "C2", "OrganizationName": "Contoso"}
    assert [o.status for o in finops.upsert("CustomersV2", [without, second])] == [
        "created",
        "created",
    ]
    numbers = {c["CustomerAccount"]: c["PartyNumber"] for c in finops.export("CustomersV2")}
    assert all(numbers.values()) and len(set(numbers.values())) == 2
    parties = {p["PartyNumber"]: p for p in finops.export("Parties")}
    first = parties[numbers[CUSTOMER["CustomerAccount"]]]
    assert (first["PartyType"], first["Name"]) == ("Organization", "Fabrikam")
    assert parties[numbers["C2"]]["Name"] == "Contoso"
    # An update keeps the party number and renames the party.
    finops.upsert("CustomersV2", [{**without, "OrganizationName": "Fabrikam Inc"}])
    after = {c["CustomerAccount"]: c["PartyNumber"] for c in finops.export("CustomersV2")}
    assert after == numbers
    renamed = {p["PartyNumber"]: p["Name"] for p in finops.export("Parties")}
    assert renamed[numbers[CUSTOMER["CustomerAccount"]]] == "Fabrikam Inc"


def test_given_party_number_is_kept_and_person_party_named(finops: FinOpsSandbox) -> None:
    person = {
        "dataAreaId": "usmf",
        "CustomerAccount": "CON-01000-BVRCPS",
        "PartyNumber": "CON-01000-BVRCPS",
        "PartyType": "Person",
        "PersonFirstName": "Ann",
        "PersonLastName": "Lee",
        "CustomerGroupId": "10",
    }
    finops.upsert("CustomersV2", [person])
    assert {"PartyNumber": "CON-01000-BVRCPS", "PartyType": "Person", "Name": "Ann Lee"} in list(
        finops.export("Parties")
    )


def test_company_is_read_case_insensitively(finops: FinOpsSandbox) -> None:
    (outcome,) = finops.upsert("CustomersV2", [{**CUSTOMER, "dataAreaId": "USMF"}])
    assert outcome.status == "created"
    assert outcome.key == ("usmf", CUSTOMER["CustomerAccount"])
    (stored,) = finops.export("CustomersV2")
    assert stored["dataAreaId"] == "usmf"
    # The same record under either spelling is the same record.
    assert [o.status for o in finops.upsert("CustomersV2", [CUSTOMER])] == ["unchanged"]
    assert finops.count("CustomersV2") == 1


def test_text_of_a_str_subclass_is_taken_as_text(finops: FinOpsSandbox) -> None:
    class Group(enum.StrEnum):
        RETAIL = "10"

    (outcome,) = finops.upsert("CustomersV2", [{**CUSTOMER, "CustomerGroupId": Group.RETAIL}])
    assert outcome.status == "created"
    (stored,) = finops.export("CustomersV2")
    assert stored["CustomerGroupId"] == "10"


def test_a_missing_key_field_is_named(finops: FinOpsSandbox) -> None:
    record = {k: v for k, v in CUSTOMER.items() if k != "CustomerAccount"}
    (outcome,) = finops.upsert("CustomersV2", [record])
    assert (outcome.status, outcome.field) == ("failed", "CustomerAccount")
    assert "entity key" in (outcome.message or "")


def test_same_key_twice_in_one_batch(finops: FinOpsSandbox) -> None:
    renamed = {**CUSTOMER, "OrganizationName": "Fabrikam Inc"}
    outcomes = finops.upsert("CustomersV2", [CUSTOMER, renamed, renamed])
    assert [o.status for o in outcomes] == ["created", "updated", "unchanged"]
    (stored,) = finops.export("CustomersV2")
    assert stored["OrganizationName"] == "Fabrikam Inc"


def test_reference_data(finops: FinOpsSandbox) -> None:
    groups = {(g["dataAreaId"], g["CustomerGroupId"]) for g in finops.export("CustomerGroups")}
    assert ("usmf", "10") in groups
    companies = {e["LegalEntityId"]: e for e in finops.export("LegalEntities")}
    assert companies["usmf"]["AccountingCurrency"] == "USD"
    countries = {c["CountryRegion"]: c["ISOCode"] for c in finops.export("AddressCountryRegions")}
    assert countries["USA"] == "US"
    assert "en-us" in {lang["LanguageId"] for lang in finops.export("Languages")}
    warehouses = {(w["dataAreaId"], w["WarehouseId"]): w for w in finops.export("Warehouses")}
    assert warehouses[("usmf", "13")]["OperationalSiteId"] == "1"
    assert "usmf" in finops.legal_entities()


def test_a_failed_record_in_the_middle_leaves_the_others_written(finops: FinOpsSandbox) -> None:
    batch = [
        {**CUSTOMER, "CustomerAccount": "C1", "PartyNumber": "C1"},
        {**CUSTOMER, "CustomerAccount": "C2", "PartyNumber": "C2", "CustomerGroupId": "99"},
        {**CUSTOMER, "CustomerAccount": "C3", "PartyNumber": "C3"},
        {**CUSTOMER, "CustomerAccount": "C4", "PartyNumber": "C4", "Colour": "red"},
        {**CUSTOMER, "CustomerAccount": "C5", "PartyNumber": "C5"},
    ]
    outcomes = finops.upsert("CustomersV2", batch)
    assert [o.status for o in outcomes] == ["created", "failed", "created", "failed", "created"]
    assert [o.key for o in outcomes] == [("usmf", f"C{n}") for n in range(1, 6)]
    assert sorted(c["CustomerAccount"] for c in finops.export("CustomersV2")) == ["C1", "C3", "C5"]
    assert {"C1", "C3", "C5"} <= {p["PartyNumber"] for p in finops.export("Parties")}
    assert "C2" not in {p["PartyNumber"] for p in finops.export("Parties")}


@pytest.mark.parametrize("code", ["USA", "US"])
def test_iso_code_fields_take_iso2_or_the_country_region_id(
    finops: FinOpsSandbox, code: str
) -> None:
    record = {**CUSTOMER, "AddressCity": "Seattle", "AddressCountryRegionISOCode": code}
    (outcome,) = finops.upsert("CustomersV2", [record])
    assert outcome.status == "created"


def test_sales_currency_defaults_to_the_company_currency(finops: FinOpsSandbox) -> None:
    finops.upsert("CustomersV2", [{**CUSTOMER, "dataAreaId": "demf"}])
    finops.upsert("CustomersV2", [{**CUSTOMER, "dataAreaId": "gbsi", "SalesCurrencyCode": "USD"}])
    currencies = {c["dataAreaId"]: c["SalesCurrencyCode"] for c in finops.export("CustomersV2")}
    assert currencies == {"demf": "EUR", "gbsi": "USD"}


def test_whole_numbers_out_of_range_are_rejected(finops: FinOpsSandbox) -> None:
    finops.upsert("CustomersV2", [CUSTOMER])
    person = {
        "dataAreaId": "usmf",
        "ContactPersonPartyNumber": "C1",
        "AssociatedPartyNumber": "ACC-01000-AAAAAA",
        "LastName": "Lee",
        "BirthYear": 2**40,
    }
    (outcome,) = finops.upsert("CDSContactPersons", [person])
    assert (outcome.status, outcome.field) == ("failed", "BirthYear")
    assert "outside the range" in (outcome.message or "")
