from __future__ import annotations

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
    finops: FinOpsSandbox, change: dict, field: str, words: str
) -> None:
    good = {**CUSTOMER, "CustomerAccount": "GOOD", "PartyNumber": "GOOD"}
    outcomes = finops.upsert("CustomersV2", [good, {**CUSTOMER, **change}])
    assert outcomes[0].status == "created"
    assert outcomes[1].status == "failed"
    assert outcomes[1].field == field
    assert words in (outcomes[1].message or "")
    assert finops.count("CustomersV2") == 1


def test_contact_person_needs_an_existing_associated_party(finops: FinOpsSandbox) -> None:
    person = {"dataAreaId": "usmf", "ContactPersonPartyNumber": "CON-01000-BVRCPS",
              "AssociatedPartyNumber": "ACC-01000-AAAAAA", "LastName": "Lee",
              "IsContactPersonExternallyMaintained": "Yes"}
    (first,) = finops.upsert("CDSContactPersons", [person])
    assert first.status == "failed" and first.field == "AssociatedPartyNumber"
    finops.upsert("CustomersV2", [CUSTOMER])
    (second,) = finops.upsert("CDSContactPersons", [person])
    assert second.status == "created"
    (stored,) = finops.export("CDSContactPersons")
    assert stored["IsContactPersonExternallyMaintained"] == "Yes"


def test_unknown_decision_role_is_rejected(finops: FinOpsSandbox) -> None:
    finops.upsert("CustomersV2", [CUSTOMER])
    person = {"dataAreaId": "usmf", "ContactPersonPartyNumber": "C1",
              "AssociatedPartyNumber": "ACC-01000-AAAAAA", "LastName": "Lee",
              "DecisionMakingRoleCode": "Boss"}
    (outcome,) = finops.upsert("CDSContactPersons", [person])
    assert outcome.field == "DecisionMakingRoleCode" and "'Boss'" in (outcome.message or "")
