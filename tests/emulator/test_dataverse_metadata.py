"""Dataverse table definitions on the emulator, made from p2c.dynamics: EntityDefinitions,
Attributes (type casts, OptionSet), Keys, relationships, sdkmessagefilters and the start-up
functions; what the emulator refuses."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import Api

from p2c.dynamics import SALES

CONTACT = "EntityDefinitions(LogicalName='contact')"


def _ok(api: Api, path: str, **params: str) -> Any:
    answer = api.get("sales", path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_entity_definitions_by_filter_key_and_metadata_id(reader: Api) -> None:
    found = _ok(
        reader,
        "EntityDefinitions",
        **{
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
            "$filter": "LogicalName eq 'contact'",
        },
    )["value"]
    assert len(found) == 1
    contact = found[0]
    assert (contact["EntitySetName"], contact["PrimaryIdAttribute"]) == ("contacts", "contactid")
    assert set(contact) == {"MetadataId", "LogicalName", "EntitySetName", "PrimaryIdAttribute"}
    by_id = _ok(reader, f"EntityDefinitions({contact['MetadataId']})", **{"$select": "SchemaName"})
    assert by_id["SchemaName"] == "Contact"
    whole = _ok(reader, CONTACT)
    assert whole["PrimaryNameAttribute"] == "fullname"
    assert whole["DisplayName"]["UserLocalizedLabel"]["Label"] == "Contact"
    every = _ok(reader, "EntityDefinitions", **{"$filter": "IsPrivate eq false"})["value"]
    assert {e["LogicalName"] for e in every} == {e.name for e in SALES.entities}


def test_attributes_follow_the_model(reader: Api) -> None:
    attributes = _ok(reader, f"{CONTACT}/Attributes")["value"]
    by_name = {a["LogicalName"]: a for a in attributes}
    contact = SALES.entity("contact")
    assert set(by_name) >= {f.name for f in contact.fields}
    lastname = by_name["lastname"]
    assert lastname["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert lastname["MaxLength"] == contact.by_name["lastname"].max_length
    assert lastname["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert by_name["parentcustomerid"]["Targets"] == ["account", "contact"]
    assert by_name["parentcustomeridtype"]["AttributeOf"] == "parentcustomerid"
    one = _ok(reader, f"{CONTACT}/Attributes(LogicalName='msdynce_contactnumber')")
    assert one["IsCustomAttribute"] is True


def test_picklist_cast_with_option_sets(reader: Api) -> None:
    picklists = _ok(
        reader,
        f"{CONTACT}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        **{"$select": "LogicalName", "$expand": "OptionSet($select=Options)"},
    )["value"]
    options = {
        p["LogicalName"]: {
            o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in p["OptionSet"]["Options"]
        }
        for p in picklists
    }
    assert options["gendercode"] == {1: "Male", 2: "Female"}
    boolean = _ok(
        reader,
        f"{CONTACT}/Attributes(LogicalName='donotemail')/Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
        **{"$expand": "OptionSet"},
    )
    assert boolean["OptionSet"]["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"] == (
        "Do Not Allow"
    )


def test_keys_and_relationships(reader: Api) -> None:
    keys = _ok(reader, f"{CONTACT}/Keys")["value"]
    assert [k["KeyAttributes"] for k in keys] == [["msdynce_contactnumber"]]
    many_to_one = _ok(reader, f"{CONTACT}/ManyToOneRelationships")["value"]
    parent = {r["SchemaName"]: r for r in many_to_one}["contact_customer_accounts"]
    assert parent["ReferencingEntityNavigationPropertyName"] == "parentcustomerid_account"
    assert parent["CascadeConfiguration"]["Delete"] == "RemoveLink"
    one_to_many = _ok(reader, "EntityDefinitions(LogicalName='account')/OneToManyRelationships")
    assert "contact_customer_accounts" in {r["SchemaName"] for r in one_to_many["value"]}
    quote = {r["SchemaName"]: r for r in _ok(reader, "RelationshipDefinitions")["value"]}
    assert quote["quote_customer_contacts"]["CascadeConfiguration"]["Delete"] == "Restrict"


def test_sdk_message_filters_say_which_tables_take_the_bulk_messages(reader: Api) -> None:
    found = _ok(
        reader,
        "sdkmessagefilters",
        **{
            "$select": "primaryobjecttypecode",
            "$expand": "sdkmessageid($select=name)",
            "$filter": "(sdkmessageid/name eq 'CreateMultiple' or sdkmessageid/name eq "
            "'UpsertMultiple') and primaryobjecttypecode eq 'contact'",
        },
    )["value"]
    assert sorted(f["sdkmessageid"]["name"] for f in found) == ["CreateMultiple", "UpsertMultiple"]


def test_start_up_functions_and_older_versions(reader: Api) -> None:
    assert _ok(reader, "RetrieveAvailableLanguages")["LocaleIds"] == [1033]
    assert _ok(reader, "RetrieveVersion()")["Version"].startswith("9.2")
    base = reader.running.base_url
    token = reader.token("sales")
    for version in ("v9.0", "v9.1"):
        answer = reader.client.get(
            f"{base}/sales/api/data/{version}/WhoAmI", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("EntityDefinitions", {"$top": "1"}, 400),
        ("EntityDefinitions", {"$select": "NoSuchProperty"}, 400),
        (f"{CONTACT}/Attributes", {"$select": "MaxLength"}, 400),  # a derived property: cast
        (f"{CONTACT}/Attributes", {"$expand": "OptionSet"}, 400),
        ("EntityDefinitions(LogicalName='nosuchtable')", {}, 404),
        (f"{CONTACT}/Attributes(LogicalName='nosuchcolumn')", {}, 404),
        ("sdkmessagefilters", {"$top": "1"}, 400),
    ],
)
def test_what_the_metadata_refuses(
    reader: Api, path: str, params: dict[str, str], status: int
) -> None:
    answer = reader.get("sales", path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


def test_the_application_user_cannot_customize(reader: Api) -> None:
    for method, path in (
        ("POST", "EntityDefinitions"),
        ("POST", f"{CONTACT}/Attributes"),
        ("DELETE", CONTACT),
        ("POST", "CreateEntities"),
    ):
        answer = reader.request("sales", method, path, json={})
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "0x80040220"
