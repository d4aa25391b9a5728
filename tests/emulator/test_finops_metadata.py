"""F&O on the emulator beyond reads and upserts: the metadata service, the version actions,
ETags, DELETE by key, key reads that differ in case only."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import Api

from p2c.dynamics import FINOPS

KEY = "CustomersV2(dataAreaId='{}',CustomerAccount='{}')"
CUSTOMER = {
    "dataAreaId": "usmf",
    "CustomerAccount": "C-9",
    "OrganizationName": "Org C-9",
    "CustomerGroupId": "10",
}


def _metadata(api: Api, path: str, **params: str) -> Any:
    token = api.token("finops")
    answer = api.client.get(
        f"{api.running.base_url}/finops/Metadata/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_public_entities_follow_the_model(reader: Api) -> None:
    entities = _metadata(reader, "PublicEntities", **{"$select": "Name,EntitySetName"})["value"]
    assert {e["EntitySetName"] for e in entities} == {e.entity_set for e in FINOPS.entities}
    customers = FINOPS.entity("CustomersV2")
    one = _metadata(reader, f"PublicEntities('{customers.name}')")
    properties = {p["Name"]: p for p in one["Properties"]}
    assert [n for n, p in properties.items() if p["IsKey"]] == list(customers.key)
    assert properties["PartyType"]["DataType"] == "Enum"
    assert properties["PartyType"]["TypeName"] == "DirPartyType"
    label = _metadata(
        reader, f"Labels(Id='{properties['CustomerGroupId']['LabelId']}',Language='en-us')"
    )
    assert label["Value"] == customers.by_name["CustomerGroupId"].display
    data = _metadata(
        reader, "DataEntities", **{"$filter": f"PublicEntityName eq '{customers.name}'"}
    )
    assert data["value"][0]["PublicCollectionName"] == "CustomersV2"
    enums = _metadata(reader, "PublicEnumerations(Name='NoYes')")
    assert [(m["Name"], m["Value"]) for m in enums["Members"]] == [("No", 0), ("Yes", 1)]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("DataManagementEntities/Microsoft.Dynamics.DataEntities.GetApplicationVersion", "10.0."),
        ("DataManagementEntities/Microsoft.Dynamics.DataEntities.GetPlatformBuildVersion", "7.0."),
    ],
)
def test_version_actions(reader: Api, path: str, expected: str) -> None:
    answer = reader.request("finops", "POST", path)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"].startswith(expected)


def test_installed_modules(reader: Api) -> None:
    path = "SystemNotifications/Microsoft.Dynamics.DataEntities.GetInstalledModules"
    modules = reader.request("finops", "POST", path).json()["value"]
    assert any("ApplicationSuite" in m for m in modules)


def test_etags_delete_and_key_reads(api: Api) -> None:
    created = api.request("finops", "POST", "CustomersV2", json=CUSTOMER)
    assert created.status_code == 201, created.text
    tag = created.json()["@odata.etag"]
    read = api.get("finops", KEY.format("usmf", "c-9"))  # F&O compares keys ignoring case
    assert read.status_code == 200, read.text
    assert read.json()["@odata.etag"] == tag and read.json()["CustomerAccount"] == "C-9"
    listed = api.get("finops", "CustomersV2", params={"$filter": "CustomerAccount eq 'C-9'"})
    assert listed.json()["value"][0]["@odata.etag"] == tag
    changed = api.request(
        "finops",
        "PATCH",
        KEY.format("usmf", "C-9"),
        json={"CreditLimit": 5},
        headers={"If-Match": tag},
    )
    assert changed.status_code == 204, changed.text
    lost_update = api.request(
        "finops",
        "PATCH",
        KEY.format("usmf", "C-9"),
        json={"CreditLimit": 7},
        headers={"If-Match": tag},
    )
    assert lost_update.status_code == 412, lost_update.text
    assert "ETag" in lost_update.json()["error"]["message"]
    current = api.get("finops", KEY.format("usmf", "C-9")).json()
    assert current["CreditLimit"] == 5 and current["@odata.etag"] != tag
    forced = api.request(
        "finops",
        "PATCH",
        KEY.format("usmf", "C-9"),
        json={"CreditLimit": 6},
        headers={"If-Match": "*"},
    )
    assert forced.status_code == 204, forced.text
    stale = api.request("finops", "DELETE", KEY.format("usmf", "C-9"), headers={"If-Match": tag})
    assert stale.status_code == 412
    gone = api.request("finops", "DELETE", KEY.format("usmf", "C-9"))
    assert gone.status_code == 204
    assert api.get("finops", KEY.format("usmf", "C-9")).status_code == 404
    assert api.request("finops", "DELETE", KEY.format("usmf", "C-9")).status_code == 404


def test_what_the_metadata_service_refuses(reader: Api) -> None:
    token = reader.token("finops")
    base = f"{reader.running.base_url}/finops/Metadata/"
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        reader.client.get(base + "PublicEntities", params={"$top": "1"}, headers=auth).status_code
        == 400
    )
    assert reader.client.get(base + "NoSuchThing", headers=auth).status_code == 404
    assert reader.client.post(base + "PublicEntities", headers=auth, json={}).status_code == 405
