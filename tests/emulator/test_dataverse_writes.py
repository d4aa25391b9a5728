"""Dataverse writes beyond create and upsert on the emulator: DELETE (alone, by alternate key,
in a change set, in delta links), ETags and conditional writes, the bulk messages with the
Prospect-to-cash rules for each item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulator_helpers import ACC, CON, KID, SOLO, Api

from p2c.dynamics import SALES
from p2c.workspace import Workspace

TYPE = "Microsoft.Dynamics.CRM.contact"


def _get(api: Api, path: str, **params: str) -> Any:
    answer = api.get("sales", path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_delete_by_id_and_by_alternate_key(api: Api) -> None:
    number = _get(api, f"contacts({KID})", **{"$select": "msdynce_contactnumber"})
    gone = api.request(
        "sales", "DELETE", f"contacts(msdynce_contactnumber='{number['msdynce_contactnumber']}')"
    )
    assert gone.status_code == 204, gone.text
    assert api.get("sales", f"contacts({KID})").status_code == 404
    # The contact whose company was CON keeps existing; CON's own delete unlinks nothing else.
    assert api.request("sales", "DELETE", f"contacts({SOLO})").status_code == 204
    again = api.request("sales", "DELETE", f"contacts({SOLO})")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "0x80040217"


def test_deleting_a_company_unlinks_its_contacts(api: Api) -> None:
    assert api.request("sales", "DELETE", f"accounts({ACC})").status_code == 204
    ann = _get(api, f"contacts({CON})", **{"$select": "_parentcustomerid_value"})
    assert ann["_parentcustomerid_value"] is None


def test_a_customer_of_a_quote_cannot_be_deleted(api: Api) -> None:
    made = api.request(
        "sales",
        "POST",
        "quotes",
        json={"name": "Q", "customerid_contact@odata.bind": f"/contacts({SOLO})"},
    )
    assert made.status_code == 204, made.text
    refused = api.request("sales", "DELETE", f"contacts({SOLO})")
    assert refused.status_code == 400
    assert "associated with another object" in refused.json()["error"]["message"]


def test_delete_in_a_change_set_rolls_back_with_it(api: Api) -> None:
    items = [
        [
            ("DELETE", f"contacts({SOLO})", None),
            ("PATCH", f"contacts({KID})", {"lastname": "x" * 51}),
        ]
    ]
    answers = api.batch("sales", items)
    assert answers[-1]["status"] == 400
    assert api.get("sales", f"contacts({SOLO})").status_code == 200


def test_a_deleted_contact_is_reported_in_the_delta_link(workspace: Path, api: Api) -> None:
    sales = Workspace.open(workspace).sales()
    sales.changes.enable(SALES.entity("contact"))
    sales.close()
    first = api.get(
        "sales",
        "contacts",
        params={"$select": "lastname"},
        headers={"Prefer": "odata.track-changes"},
    )
    assert first.status_code == 200, first.text
    link = first.json()["@odata.deltaLink"]
    assert api.request("sales", "DELETE", f"contacts({SOLO})").status_code == 204
    delta = api.client.get(link, headers={"Authorization": f"Bearer {api.token('sales')}"}).json()
    removed = [v for v in delta["value"] if v.get("reason") == "deleted"]
    assert [
        (r["id"], r["@odata.context"].endswith("contacts/$deletedEntity")) for r in removed
    ] == [(SOLO, True)]


def test_etags_and_conditional_writes(api: Api) -> None:
    record = _get(api, f"contacts({CON})", **{"$select": "lastname"})
    tag = record["@odata.etag"]
    assert tag.startswith('W/"')
    listed = _get(api, "contacts", **{"$select": "lastname", "$filter": f"contactid eq {CON}"})
    assert listed["value"][0]["@odata.etag"] == tag
    changed = api.request(
        "sales", "PATCH", f"contacts({CON})", json={"jobtitle": "A"}, headers={"If-Match": tag}
    )
    assert changed.status_code == 204, changed.text
    stale = api.request(
        "sales", "PATCH", f"contacts({CON})", json={"jobtitle": "B"}, headers={"If-Match": tag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    stale_delete = api.request("sales", "DELETE", f"contacts({CON})", headers={"If-Match": tag})
    assert stale_delete.status_code == 412
    exists = api.request(
        "sales", "PATCH", f"contacts({CON})", json={"jobtitle": "C"}, headers={"If-None-Match": "*"}
    )
    assert exists.status_code == 412
    missing = "99999999-9999-4999-8999-999999999999"
    update_only = api.request(
        "sales", "PATCH", f"contacts({missing})", json={"lastname": "N"}, headers={"If-Match": "*"}
    )
    assert update_only.status_code == 404


def test_if_none_match_retrieves_a_record_only_if_it_changed(api: Api) -> None:
    first = api.get("sales", f"contacts({CON})", params={"$select": "lastname"})
    tag = first.json()["@odata.etag"]
    assert first.headers["ETag"] == tag
    unchanged = api.get(
        "sales", f"contacts({CON})", params={"$select": "lastname"}, headers={"If-None-Match": tag}
    )
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["ETag"] == tag
    other = api.get("sales", f"contacts({CON})", headers={"If-None-Match": 'W/"1", W/"2"'})
    assert other.status_code == 200
    changed = api.request("sales", "PATCH", f"contacts({CON})", json={"jobtitle": "New"})
    assert changed.status_code == 204
    after = api.get("sales", f"contacts({CON})", headers={"If-None-Match": tag})
    assert after.status_code == 200
    assert after.json()["jobtitle"] == "New" and after.json()["@odata.etag"] != tag


def test_create_multiple_runs_the_plug_in_for_each_item(api: Api) -> None:
    targets = [
        {
            "@odata.type": TYPE,
            "lastname": "M1",
            "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
        },
        {"@odata.type": TYPE, "lastname": "M2"},
    ]
    made = api.request(
        "sales", "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}
    )
    assert made.status_code == 200, made.text
    ids = made.json()["Ids"]
    rows = [
        _get(
            api, f"contacts({i})", **{"$select": "msdynce_contactnumber,msdynce_iscompanyanaccount"}
        )
        for i in ids
    ]
    assert all(r["msdynce_contactnumber"].startswith("CON-") for r in rows)
    assert [r["msdynce_iscompanyanaccount"] for r in rows] == [True, False]


def test_one_bad_item_fails_the_bulk_request_and_is_named(api: Api) -> None:
    targets = [{"lastname": "Fine"}, {"lastname": "y" * 51}]
    refused = api.request(
        "sales", "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}
    )
    assert refused.status_code == 400
    assert "Targets[1]" in refused.json()["error"]["message"]
    assert _get(api, "contacts", **{"$filter": "lastname eq 'Fine'"})["value"] == []
    update = api.request(
        "sales",
        "POST",
        "contacts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json={
            "Targets": [
                {"contactid": CON, "jobtitle": "Ok"},
                {"contactid": "99999999-9999-4999-8999-999999999999", "jobtitle": "No"},
            ]
        },
    )
    assert update.status_code == 404
    assert "Targets[1]" in update.json()["error"]["message"]
    assert _get(api, f"contacts({CON})")["jobtitle"] is None


def test_upsert_multiple_by_odata_id_and_alternate_key(api: Api) -> None:
    targets = [
        {
            "@odata.type": TYPE,
            "@odata.id": "contacts(msdynce_contactnumber='CON-77777-AAAAAA')",
            "lastname": "U1",
        },
        {"@odata.type": TYPE, "msdynce_contactnumber": "CON-77778-BBBBBB", "lastname": "U2"},
        {"@odata.type": TYPE, "contactid": CON, "jobtitle": "Upserted"},
    ]
    done = api.request(
        "sales", "POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets}
    )
    assert done.status_code == 200, done.text
    assert len(done.json()["Ids"]) == 3
    found = _get(api, "contacts", **{"$filter": "startswith(msdynce_contactnumber,'CON-7777')"})
    assert sorted(r["lastname"] for r in found["value"]) == ["U1", "U2"]
    assert _get(api, f"contacts({CON})")["jobtitle"] == "Upserted"
