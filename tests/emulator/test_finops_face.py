"""The F&O OData face and the CDS hub in the same shape: cross-company reads, keys, paging
up to 10,000, writes through the sandbox's rules, NoYes enums, F&O error bodies."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from emulator_helpers import Api

from p2c.emulator import serve
from p2c.workspace import Workspace

KEY = "CustomersV2(dataAreaId='{}',CustomerAccount='{}')"


def _customer(account: str, area: str = "usmf", **more: object) -> dict[str, object]:
    return {
        "dataAreaId": area,
        "CustomerAccount": account,
        "OrganizationName": f"Org {account}",
        "CustomerGroupId": "10",
        **more,
    }


def test_create_read_and_update_a_customer(api: Api) -> None:
    created = api.request("finops", "POST", "CustomersV2", json=_customer("C-1", "USMF"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["dataAreaId"] == "usmf" and body["PartyNumber"]
    assert body["IsExternallyMaintained"] == "No"  # NoYes read as Yes/No
    assert body["SalesCurrencyCode"] == "USD"  # the company's currency
    assert created.headers["Location"].endswith(KEY.format("usmf", "C-1"))
    again = api.request("finops", "POST", "CustomersV2", json=_customer("C-1"))
    assert again.status_code == 400
    assert "already exists" in again.json()["error"]["innererror"]["message"]
    patched = api.request(
        "finops",
        "PATCH",
        KEY.format("usmf", "C-1"),
        params={"cross-company": "true"},
        json={
            "IsExternallyMaintained": "Microsoft.Dynamics.DataEntities.NoYes'Yes'",
            "SalesMemo": "hi",
        },
    )
    assert patched.status_code == 204, patched.text
    read = api.get("finops", KEY.format("USMF", "C-1"), params={"cross-company": "true"}).json()
    assert read["IsExternallyMaintained"] == "Yes" and read["SalesMemo"] == "hi"
    assert read["OrganizationName"] == "Org C-1"
    selected = api.get(
        "finops", KEY.format("usmf", "C-1"), params={"$select": "CustomerAccount,PartyType"}
    ).json()
    assert {k for k in selected if not k.startswith("@")} == {"CustomerAccount", "PartyType"}


def test_missing_keys_and_other_companies(api: Api) -> None:
    assert (
        api.request("finops", "POST", "CustomersV2", json=_customer("U-1", "usrt")).status_code
        == 201
    )
    missing = api.get("finops", KEY.format("usmf", "NOPE"), params={"cross-company": "true"})
    assert missing.status_code == 404 and missing.json()["error"]["message"]
    # Without cross-company=true, F&O sees only the user's company (usmf).
    assert api.get("finops", KEY.format("usrt", "U-1")).status_code == 404
    assert (
        api.get("finops", KEY.format("usrt", "U-1"), params={"cross-company": "true"}).status_code
        == 200
    )
    patch = api.request("finops", "PATCH", KEY.format("usmf", "NOPE"), json={"SalesMemo": "x"})
    assert patch.status_code == 404
    partial = api.get("finops", "CustomersV2(CustomerAccount='U-1')")
    assert partial.status_code == 400 and "dataAreaId" in partial.json()["error"]["message"]


def test_rejections_are_f_and_o_error_bodies(api: Api) -> None:
    refused = api.request(
        "finops", "POST", "CustomersV2", json=_customer("C-2", CustomerGroupId="99")
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["message"] == "An error has occurred."
    inner = error["innererror"]
    assert inner["type"].endswith("AxODataWriteException")
    assert inner["message"].startswith("Write failed for table row of type 'CustomerV2Entity'.")
    assert "'99'" in inner["message"] and "CustomerGroupId" in inner["message"]
    unknown = api.request("finops", "POST", "CustomersV2", json=_customer("C-3", Colour="red"))
    assert (
        unknown.status_code == 400
        and "'Colour' does not exist" in unknown.json()["error"]["message"]
    )
    contact = api.request(
        "finops",
        "POST",
        "CDSContactPersons",
        json={
            "dataAreaId": "usmf",
            "ContactPersonPartyNumber": "CON-1",
            "AssociatedPartyNumber": "ACC-404",
            "LastName": "Lee",
        },
    )
    assert contact.status_code == 400
    assert "'ACC-404'" in contact.json()["error"]["innererror"]["message"]
    bad_select = api.get("finops", "CustomersV2", params={"$select": "Colour"})
    assert bad_select.status_code == 400 and "Colour" in bad_select.json()["error"]["message"]
    bad_filter = api.get("finops", "CustomersV2", params={"$filter": "Colour eq 'red'"})
    assert bad_filter.status_code == 400 and "Colour" in bad_filter.json()["error"]["message"]
    assert api.get("finops", "customersv2").status_code == 404


def test_cross_company_filters_select_top_skip_and_count(api: Api) -> None:
    for n in range(6):
        area = "usmf" if n % 2 else "usrt"
        answer = api.request(
            "finops",
            "POST",
            "CustomersV2",
            json=_customer(
                f"F-{n}", area, PartyType="Person" if n < 2 else "Organization", PersonLastName="P"
            ),
        )
        assert answer.status_code == 201, answer.text
    own = api.get("finops", "CustomersV2", params={"$select": "CustomerAccount"}).json()["value"]
    assert [c["CustomerAccount"] for c in own] == ["F-1", "F-3", "F-5"]
    other = api.get(
        "finops",
        "CustomersV2",
        params={
            "cross-company": "true",
            "$filter": "dataAreaId eq 'USRT'",
            "$select": "CustomerAccount,dataAreaId",
        },
    ).json()["value"]
    assert {c["CustomerAccount"] for c in other} == {"F-0", "F-2", "F-4"}
    persons = api.get(
        "finops",
        "CustomersV2",
        params={
            "cross-company": "true",
            "$filter": "PartyType eq Microsoft.Dynamics.DataEntities.DirPartyType'Person'",
        },
    ).json()["value"]
    assert {c["CustomerAccount"] for c in persons} == {"F-0", "F-1"}
    window = api.get(
        "finops",
        "CustomersV2",
        params={
            "cross-company": "true",
            "$orderby": "CustomerAccount desc",
            "$top": "2",
            "$skip": "1",
            "$count": "true",
            "$select": "CustomerAccount",
        },
    ).json()
    assert [c["CustomerAccount"] for c in window["value"]] == ["F-4", "F-3"]
    assert window["@odata.count"] == 6
    assert api.get("finops", "CustomersV2/$count", params={"cross-company": "true"}).text == "6"


def test_pages_are_at_most_ten_thousand(workspace: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(workspace, tmp_path / "many"))
    finops = Workspace.open(root).finops()
    outcomes = finops.upsert("CustomersV2", [_customer(f"M-{n:05d}") for n in range(10_050)])
    assert {o.status for o in outcomes} == {"created"}
    finops.close()
    with serve(root) as running:
        api = Api(running)
        pages = api.pages(
            "finops",
            "CustomersV2",
            20_000,
            **{"$select": "CustomerAccount", "cross-company": "true"},
        )
        assert [len(p) for p in pages] == [10_000, 50]
        accounts = [c["CustomerAccount"] for page in pages for c in page]
        assert len(set(accounts)) == 10_050
        small = api.pages("finops", "CustomersV2", 4000, **{"$filter": "dataAreaId eq 'usmf'"})
        assert [len(p) for p in small] == [4000, 4000, 2050]
        api.close()


def test_the_cds_hub_in_the_f_and_o_shape(api: Api) -> None:
    organizations = api.get("cds", "Organization").json()["value"]
    assert organizations[0].pop("@odata.etag").startswith('W/"')
    assert organizations == [{"OrganizationId": "ORG001", "Name": "Contoso"}]
    account = {
        "Organization_OrganizationId": "ORG001",
        "AccountNumber": "ACC-1",
        "Name": "Fabrikam",
        "PartyType": "Organization",
    }
    assert api.request("cds", "POST", "Account", json=account).status_code == 201
    orphan = api.request(
        "cds",
        "POST",
        "Contact",
        json={
            "Organization_OrganizationId": "ORG001",
            "ContactNumber": "CON-1",
            "LastName": "Lee",
            "PrimaryAccount_AccountNumber": "ACC-2",
        },
    )
    assert orphan.status_code == 400
    assert "Account 'ACC-2'" in orphan.json()["error"]["innererror"]["message"]
    key = "Account(Organization_OrganizationId='ORG001',AccountNumber='ACC-1')"
    assert api.request("cds", "PATCH", key, json={"CreditLimit": 500}).status_code == 204
    assert api.get("cds", key).json()["CreditLimit"] == 500
    assert (
        api.get(
            "cds", "Account(Organization_OrganizationId='ORG001',AccountNumber='X')"
        ).status_code
        == 404
    )
    filtered = api.get("cds", "Account", params={"$filter": "PartyType eq 'Organization'"}).json()[
        "value"
    ]
    assert [a["AccountNumber"] for a in filtered] == ["ACC-1"]


def test_metadata_of_f_and_o(api: Api) -> None:
    answer = api.get("finops", "$metadata")
    assert answer.status_code == 200
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    root = ET.fromstring(answer.content)
    customer = root.find(".//edm:EntityType[@Name='CustomerV2']", ns)
    assert customer is not None
    keys = [k.get("Name") for k in customer.findall("edm:Key/edm:PropertyRef", ns)]
    assert keys == ["dataAreaId", "CustomerAccount"]
    types = {p.get("Name"): p.get("Type") for p in customer.findall("edm:Property", ns)}
    assert types["IsExternallyMaintained"] == "Microsoft.Dynamics.DataEntities.NoYes"
    assert root.find(".//edm:EnumType[@Name='NoYes']", ns) is not None
    sets = {s.get("Name") for s in root.findall(".//edm:EntitySet", ns)}
    assert {"CustomersV2", "CDSContactPersons"} <= sets
    cds = api.get("cds", "$metadata")
    assert b'EntitySet Name="Contact"' in cds.content
