from __future__ import annotations

from typing import Any

import pytest

from p2c import NotFoundError
from p2c.sandbox import DEFAULT_ORGANIZATION, CDSHub

ACCOUNT = {
    "Organization_OrganizationId": "ORG001",
    "AccountNumber": "ACC-01000-AAAAAA",
    "Name": "Fabrikam",
    "MailingAddress_Country": "USA",
}
CONTACT = {
    "Organization_OrganizationId": "ORG001",
    "ContactNumber": "CON-01000-BVRCPS",
    "FirstName": "Ann",
    "LastName": "Lee",
    "PrimaryAccount_AccountNumber": "ACC-01000-AAAAAA",
    "PrimaryAccount_Organization_OrganizationId": "ORG001",
    "PrimaryAccountRole": "Decision",
}


def statuses(cds: CDSHub, entity_set: str, *records: dict[str, Any]) -> list[str]:
    return [o.status for o in cds.upsert(entity_set, list(records))]


def test_the_hub_starts_with_organization_org001(cds: CDSHub) -> None:
    assert DEFAULT_ORGANIZATION == "ORG001"
    assert [o["OrganizationId"] for o in cds.export("Organization")] == ["ORG001"]


def test_account_created_unchanged_updated(cds: CDSHub) -> None:
    assert statuses(cds, "Account", ACCOUNT) == ["created"]
    assert statuses(cds, "Account", ACCOUNT) == ["unchanged"]
    assert statuses(cds, "Account", {**ACCOUNT, "Name": "Fabrikam Inc"}) == ["updated"]
    (stored,) = cds.export("Account")
    assert stored["Name"] == "Fabrikam Inc"
    assert stored["MailingAddress_Country"] == "USA"
    assert cds.count("Account") == 1


def test_contact_created_unchanged_updated(cds: CDSHub) -> None:
    cds.upsert("Account", [ACCOUNT])
    assert statuses(cds, "Contact", CONTACT) == ["created"]
    assert statuses(cds, "Contact", CONTACT) == ["unchanged"]
    # An update names only the key and what changes; the rest is kept.
    update = {
        "Organization_OrganizationId": "ORG001",
        "ContactNumber": "CON-01000-BVRCPS",
        "PrimaryAccountRole": "Influencer",
    }
    (outcome,) = cds.upsert("Contact", [update])
    assert (outcome.status, outcome.key) == ("updated", ("ORG001", "CON-01000-BVRCPS"))
    (stored,) = cds.export("Contact")
    assert (stored["PrimaryAccountRole"], stored["LastName"]) == ("Influencer", "Lee")


@pytest.mark.parametrize(
    "field", ["Organization_OrganizationId", "PrimaryAccount_Organization_OrganizationId"]
)
def test_unknown_organization_is_rejected_naming_the_field(cds: CDSHub, field: str) -> None:
    cds.upsert("Account", [ACCOUNT])
    (outcome,) = cds.upsert("Contact", [{**CONTACT, field: "ORG999"}])
    assert outcome.status == "failed"
    assert outcome.field == field
    assert "'ORG999' does not exist" in (outcome.message or "")
    assert "ORG001" in (outcome.message or "")  # the organizations that do exist
    assert cds.count("Contact") == 0


def test_contact_of_a_missing_account_is_rejected(cds: CDSHub) -> None:
    (outcome,) = cds.upsert("Contact", [CONTACT])
    assert outcome.status == "failed"
    assert outcome.field == "PrimaryAccount_AccountNumber"
    assert "'ACC-01000-AAAAAA'" in (outcome.message or "")
    assert "Synchronize accounts first" in (outcome.message or "")
    cds.upsert("Account", [ACCOUNT])
    assert statuses(cds, "Contact", CONTACT) == ["created"]


def test_accounts_of_a_batch_are_checked_together(cds: CDSHub) -> None:
    cds.upsert("Account", [ACCOUNT])
    missing = {**CONTACT, "ContactNumber": "CON-01001-ZZZZZZ"}
    missing["PrimaryAccount_AccountNumber"] = "ACC-09999-NOPE00"
    second = {**CONTACT, "ContactNumber": "CON-01002-YYYYYY"}
    outcomes = cds.upsert("Contact", [CONTACT, missing, second])
    assert [o.status for o in outcomes] == ["created", "failed", "created"]
    assert "'ACC-09999-NOPE00'" in (outcomes[1].message or "")


def test_contact_without_company_needs_no_account(cds: CDSHub) -> None:
    alone = {k: v for k, v in CONTACT.items() if not k.startswith("PrimaryAccount")}
    assert statuses(cds, "Contact", alone) == ["created"]


def test_primary_account_role_outside_its_options(cds: CDSHub) -> None:
    cds.upsert("Account", [ACCOUNT])
    (outcome,) = cds.upsert("Contact", [{**CONTACT, "PrimaryAccountRole": "Boss"}])
    assert outcome.status == "failed"
    assert outcome.field == "PrimaryAccountRole"
    assert "'Boss' is not a valid value" in (outcome.message or "")
    assert "Decision" in (outcome.message or "")


@pytest.mark.parametrize(
    ("field", "length", "limit"),
    [
        ("Organization_OrganizationId", 11, 10),
        ("ContactNumber", 21, 20),
        ("LastName", 51, 50),
        ("PrimaryEmail", 101, 100),
    ],
)
def test_lengths(cds: CDSHub, field: str, length: int, limit: int) -> None:
    cds.upsert("Account", [ACCOUNT])
    (outcome,) = cds.upsert("Contact", [{**CONTACT, field: "x" * length}])
    assert outcome.status == "failed"
    assert outcome.field == field
    assert f"maximum length is {limit}" in (outcome.message or "")
    assert cds.count("Contact") == 0


def test_a_value_at_the_maximum_length_is_accepted(cds: CDSHub) -> None:
    cds.upsert("Account", [ACCOUNT])
    (outcome,) = cds.upsert("Contact", [{**CONTACT, "LastName": "x" * 50}])
    assert outcome.status == "created"


@pytest.mark.parametrize(
    ("entity_set", "record", "field", "words"),
    [
        ("Contact", {**CONTACT, "LastName": None}, "LastName", "LastName is required"),
        ("Account", {**ACCOUNT, "Name": None}, "Name", "Account Name is required"),
        ("Contact", {**CONTACT, "ContactNumber": ""}, "ContactNumber", "entity key"),
        ("Contact", {**CONTACT, "Colour": "red"}, "Colour", "does not exist on type"),
    ],
)
def test_required_values(
    cds: CDSHub, entity_set: str, record: dict[str, Any], field: str, words: str
) -> None:
    cds.upsert("Account", [ACCOUNT])
    (outcome,) = cds.upsert(entity_set, [record])
    assert (outcome.status, outcome.field) == ("failed", field)
    assert words in (outcome.message or "")


def test_one_bad_record_does_not_stop_the_others(cds: CDSHub) -> None:
    cds.upsert("Account", [ACCOUNT])
    outcomes = cds.upsert(
        "Contact",
        [
            {**CONTACT, "ContactNumber": "C1"},
            {**CONTACT, "ContactNumber": "C2", "Organization_OrganizationId": "NOPE"},
            {**CONTACT, "ContactNumber": "C3"},
        ],
    )
    assert [o.status for o in outcomes] == ["created", "failed", "created"]
    assert sorted(c["ContactNumber"] for c in cds.export("Contact")) == ["C1", "C3"]


def test_unknown_entity_suggests_the_name(cds: CDSHub) -> None:
    with pytest.raises(NotFoundError) as caught:
        cds.export("Contacts")
    assert caught.value.fix == "did you mean 'Contact'?"
