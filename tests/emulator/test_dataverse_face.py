"""The Dataverse Web API face: query options, paging, lookups, writes through the plug-in
rules, upsert by alternate key, error bodies, solutions, $metadata."""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import ACC, CON, KID, SOLO, Api

from p2c.emulator import serve
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace

ANNOTATED = {"Prefer": 'odata.include-annotations="*"'}
LOGICAL = "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
NUMBER = re.compile(r"^CON-\d{5}-[A-Z0-9]{6}$")


def _values(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    answer = api.get("sales", path, params=params, headers=ANNOTATED)
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]  # type: ignore[no-any-return]


def _contact(api: Api, contact_id: str) -> dict[str, Any]:
    answer = api.get("sales", f"contacts({contact_id})")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_select_filter_expand_and_lookup_annotations(reader: Api) -> None:
    api = reader
    [ann] = _values(
        api,
        "contacts",
        **{
            "$select": "firstname,lastname,_parentcustomerid_value,msdynce_iscompanyanaccount",
            "$filter": "lastname eq 'Lee'",
            "$expand": "parentcustomerid_account($select=name),owningbusinessunit($select=name)",
        },
    )
    assert ann["firstname"] == "Ann" and ann["contactid"] == CON
    assert ann["_parentcustomerid_value"] == ACC and ann[LOGICAL] == "account"
    assert ann["msdynce_iscompanyanaccount"] is True
    assert ann["parentcustomerid_account"] == {"name": "Fabrikam", "accountid": ACC}
    assert ann["owningbusinessunit"]["name"] == "Contoso Sales"
    assert "emailaddress1" not in ann
    [bo] = _values(
        api,
        "contacts",
        **{"$filter": f"_parentcustomerid_value eq {CON}", "$expand": "parentcustomerid_account"},
    )
    assert bo["contactid"] == KID and bo[LOGICAL] == "contact"
    assert bo["parentcustomerid_account"] is None
    assert "parentcustomerid" not in bo and "parentcustomeridtype" not in bo
    # Annotations only when the client asks for them, as in Dataverse.
    plain = api.get("sales", f"contacts({KID})", params={"$select": "_parentcustomerid_value"})
    assert LOGICAL not in plain.json() and plain.json()["_parentcustomerid_value"] == CON


def test_filter_on_navigation_paths_booleans_and_dates(reader: Api) -> None:
    api = reader
    by_company = _values(
        api, "contacts", **{"$filter": "parentcustomerid_account/name eq 'Fabrikam'"}
    )
    assert [c["contactid"] for c in by_company] == [CON]
    flagged = _values(
        api, "contacts", **{"$filter": "msdynce_iscompanyanaccount eq false and statecode eq 0"}
    )
    assert {c["contactid"] for c in flagged} == {KID, SOLO}
    recent = _values(api, "contacts", **{"$filter": "createdon ge 2000-01-01T00:00:00Z"})
    assert len(recent) == 3
    assert recent[0]["createdon"].endswith("Z")
    starts = _values(
        api, "contacts", **{"$filter": "startswith(lastname,'B') or lastname eq 'Solo'"}
    )
    assert {c["contactid"] for c in starts} == {KID, SOLO}


def test_orderby_count_and_top(reader: Api) -> None:
    api = reader
    ordered = _values(api, "contacts", **{"$select": "lastname", "$orderby": "lastname desc"})
    assert [c["lastname"] for c in ordered] == ["Solo", "Lee", "Berg"]
    answer = api.get(
        "sales", "contacts", params={"$count": "true", "$top": "2", "$select": "lastname"}
    )
    body = answer.json()
    assert body["@odata.count"] == 3 and len(body["value"]) == 2
    assert "@odata.nextLink" not in body
    count = api.get("sales", "contacts/$count")
    assert count.status_code == 200 and count.text == "3"


def test_paging_returns_every_record_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    sales = Workspace.open(root).sales()
    sales.load(sample_document(420))
    total = sales.count("contacts")
    sales.close()
    with serve(root) as running:
        api = Api(running)
        pages = api.pages("sales", "contacts", 37, **{"$select": "lastname"})
        ids = [c["contactid"] for page in pages for c in page]
        assert len(ids) == total == len(set(ids))
        assert all(len(p) <= 37 for p in pages) and len(pages) == -(-total // 37)
        # With $orderby the pages follow the order, still once each.
        ordered = api.pages(
            "sales", "contacts", 50, **{"$select": "lastname", "$orderby": "lastname,firstname"}
        )
        names = [c["lastname"] for page in ordered for c in page]
        assert names == sorted(names) and len(names) == total
        filtered = api.pages(
            "sales", "contacts", 25, **{"$filter": "msdynce_isactivecustomer eq true"}
        )
        active = [c["contactid"] for page in filtered for c in page]
        assert len(active) == len(set(active)) > 25
        api.close()


def test_a_read_ordered_by_modifiedon_skips_nothing_while_records_change(
    tmp_path: Path,
) -> None:
    """Pages continue after the last row's (modifiedon, contactid), not at an offset: a
    record changed mid-read moves to the end and comes again, and no record is skipped
    (at an offset, every change before the position would skip one)."""
    root = tmp_path / "ws"
    init_workspace(root)
    sales = Workspace.open(root).sales()
    sales.load(sample_document(90))
    total = sales.count("contacts")
    sales.close()
    with sqlite3.connect(root / "sandbox" / "sales.db") as db:  # all older than the reads
        db.execute("UPDATE contact SET modifiedon = '2026-01-01T00:00:00Z'")
    with serve(root) as running:
        api = Api(running)
        headers = {
            "Authorization": f"Bearer {api.token('sales')}",
            "Prefer": "odata.maxpagesize=20",
        }
        answer = api.client.get(
            api.url("sales", "contacts"),
            params={"$select": "contactid,modifiedon", "$orderby": "modifiedon,contactid"},
            headers=headers,
        )
        seen: list[str] = []
        while True:
            body = answer.json()
            page = [c["contactid"] for c in body["value"]]
            if not seen:  # after the first page, five records of it change
                writer = Workspace.open(root).sales()
                for contact_id in page[:5]:
                    writer.update("contacts", contact_id, {"jobtitle": "Moved"})
                writer.close()
            seen.extend(page)
            if not body.get("@odata.nextLink"):
                break
            answer = api.client.get(body["@odata.nextLink"], headers=headers)
        api.close()
    assert set(seen) == set(_all_ids(root)) and len(set(seen)) == total
    assert len(seen) == total + 5  # the five changed ones came again, at the end


def _all_ids(root: Path) -> list[str]:
    with sqlite3.connect(root / "sandbox" / "sales.db") as db:
        return [r[0] for r in db.execute("SELECT contactid FROM contact")]


def test_create_applies_the_plug_in_rules(api: Api) -> None:
    answer = api.request(
        "sales",
        "POST",
        "contacts",
        json={
            "firstname": "Di",
            "lastname": "New",
            "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
        },
    )
    assert answer.status_code == 204
    entity_id = answer.headers["OData-EntityId"]
    assert entity_id.startswith(api.url("sales", "contacts("))
    new = _contact(api, entity_id.rsplit("(", 1)[1].rstrip(")"))
    assert NUMBER.match(new["msdynce_contactnumber"])
    assert new["msdynce_iscompanyanaccount"] is True and new["msdynce_isactivecustomer"] is False
    shown = api.request(
        "sales",
        "POST",
        "contacts",
        params={"$select": "lastname,msdynce_contactnumber"},
        headers={"Prefer": "return=representation"},
        json={"lastname": "Shown"},
    )
    assert shown.status_code == 201
    assert shown.json()["lastname"] == "Shown" and NUMBER.match(
        shown.json()["msdynce_contactnumber"]
    )
    # A quote for Solo makes Solo an active customer (PostOperation step).
    quote = api.request(
        "sales",
        "POST",
        "quotes",
        json={"name": "Q1", "customerid_contact@odata.bind": f"/contacts({SOLO})"},
    )
    assert quote.status_code == 204
    assert _contact(api, SOLO)["msdynce_isactivecustomer"] is True


def test_update_re_evaluates_the_company_flag(api: Api) -> None:
    assert _contact(api, KID)["msdynce_iscompanyanaccount"] is False
    answer = api.request(
        "sales",
        "PATCH",
        f"contacts({KID})",
        headers={"If-Match": "*"},
        json={"jobtitle": "Buyer", "parentcustomerid_account@odata.bind": f"/accounts({ACC})"},
    )
    assert answer.status_code == 204
    kid = _contact(api, KID)
    assert kid["msdynce_iscompanyanaccount"] is True and kid["jobtitle"] == "Buyer"
    missing = "55555555-5555-4555-8555-555555555555"
    refused = api.request(
        "sales", "PATCH", f"contacts({missing})", headers={"If-Match": "*"}, json={"jobtitle": "X"}
    )
    assert refused.status_code == 404
    assert refused.json()["error"] == {
        "code": "0x80040217",
        "message": f"contact With Id = {missing} Does Not Exist",
    }
    # Without If-Match, PATCH by id creates the record with that id (Dataverse upsert).
    made = api.request(
        "sales",
        "PATCH",
        f"contacts({missing})",
        headers={"Prefer": "return=representation"},
        json={"lastname": "Made"},
    )
    assert made.status_code == 201 and made.json()["contactid"] == missing


def test_upsert_by_alternate_key(api: Api) -> None:
    key = "contacts(msdynce_contactnumber='CON-77777-AAAAAA')"
    representation = {"Prefer": "return=representation"}
    created = api.request(
        "sales",
        "PATCH",
        key,
        headers=representation,
        json={"lastname": "Key", "msdynce_contactnumber": "ignored"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["msdynce_contactnumber"] == "CON-77777-AAAAAA"  # the URL wins
    updated = api.request("sales", "PATCH", key, headers=representation, json={"firstname": "Kay"})
    assert updated.status_code == 200 and updated.json()["firstname"] == "Kay"
    assert created.json()["contactid"] == updated.json()["contactid"]
    assert api.request("sales", "PATCH", key, json={"firstname": "Kai"}).status_code == 204
    read = api.get("sales", key, params={"$select": "firstname"})
    assert read.json()["firstname"] == "Kai"
    exists = api.request(
        "sales", "PATCH", key, headers={"If-None-Match": "*"}, json={"firstname": "No"}
    )
    assert exists.status_code == 412
    assert exists.json()["error"]["code"] == "0x80060892"
    missing = api.request(
        "sales",
        "PATCH",
        "contacts(msdynce_contactnumber='CON-88888-BBBBBB')",
        headers={"If-Match": "*"},
        json={"lastname": "None"},
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
    not_a_key = api.request("sales", "PATCH", "contacts(lastname='Lee')", json={"firstname": "X"})
    assert not_a_key.status_code == 400 and "lastname" in not_a_key.json()["error"]["message"]
    duplicate = api.request(
        "sales",
        "POST",
        "contacts",
        json={"lastname": "Dup", "msdynce_contactnumber": "CON-77777-AAAAAA"},
    )
    assert duplicate.status_code == 412
    assert "CON-77777-AAAAAA" in duplicate.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "named"),
    [
        ("contacts", {"$select": "parentcustomerid"}, 400, "0x80060888", "parentcustomerid"),
        ("contacts", {"$select": "fristname"}, 400, "0x80060888", "fristname"),
        ("contacts", {"$filter": "nosuchcolumn eq 1"}, 400, "0x80060888", "nosuchcolumn"),
        ("contacts", {"$filter": "lastname eq"}, 400, "0x80060888", "lastname eq"),
        (
            "contacts",
            {"$expand": "parentcustomerid_lead"},
            400,
            "0x80060888",
            "parentcustomerid_lead",
        ),
        ("contacts", {"$orderby": "shoesize desc"}, 400, "0x80060888", "shoesize"),
        ("contacts", {"$skip": "10"}, 400, "0x80060888", "$skip"),
        ("Contacts", {}, 404, "0x8006088a", "Contacts"),
        (f"contacts({SOLO.replace('4', '9')})", {}, 404, "0x80040217", "Does Not Exist"),
    ],
)
def test_error_bodies_name_the_problem(
    reader: Api, path: str, params: dict[str, str], status: int, code: str, named: str
) -> None:
    answer = reader.get("sales", path, params=params)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code and named in error["message"]


def test_write_errors_name_the_column(api: Api) -> None:
    unknown = api.request("sales", "POST", "contacts", json={"lastname": "X", "shoesize": 42})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "0x80048d19"
    assert "'shoesize' does not exist" in unknown.json()["error"]["message"]
    required = api.request("sales", "POST", "contacts", json={"firstname": "NoLast"})
    assert required.status_code == 400 and "lastname" in required.json()["error"]["message"]
    bad_bind = api.request(
        "sales",
        "POST",
        "contacts",
        json={
            "lastname": "X",
            "parentcustomerid_account@odata.bind": f"/accounts({SOLO.replace('4', '6')})",
        },
    )
    assert bad_bind.status_code == 404 and "Does Not Exist" in bad_bind.json()["error"]["message"]
    assert api.get("sales", "contacts/$count").text == "3"  # nothing was written


def test_solutions_and_auto_numbers(reader: Api) -> None:
    api = reader
    [p2c] = _values(
        api,
        "solutions",
        **{
            "$filter": "uniquename eq 'msdynce_ProspectToCashIntegration'",
            "$select": "uniquename,version",
        },
    )
    assert p2c["version"] == "15.0.0.1"
    numbers = _values(
        api, "msdynce_p2cautonumbers", **{"$select": "msdynce_entityname,msdynce_prefix"}
    )
    assert {(n["msdynce_entityname"], n["msdynce_prefix"]) for n in numbers} == {
        ("contact", "CON"),
        ("account", "ACC"),
    }


def test_without_the_solution_its_columns_and_table_do_not_exist(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    init_workspace(root, with_p2c=False)
    with serve(root) as running:
        api = Api(running)
        assert (
            _values(
                api, "solutions", **{"$filter": "uniquename eq 'msdynce_ProspectToCashIntegration'"}
            )
            == []
        )
        assert api.get("sales", "msdynce_p2cautonumbers").status_code == 404
        column = api.get("sales", "contacts", params={"$select": "msdynce_contactnumber"})
        assert column.status_code == 400 and "msdynce_contactnumber" in column.text
        api.close()


def test_metadata_who_am_i_and_service_document(reader: Api) -> None:
    api = reader
    answer = api.get("sales", "$metadata")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/xml"
    )
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    schema = ET.fromstring(answer.content).find(".//edm:Schema", ns)
    assert schema is not None
    contact = schema.find("edm:EntityType[@Name='contact']", ns)
    assert contact is not None
    props = {p.get("Name") for p in contact.findall("edm:Property", ns)}
    assert {"_parentcustomerid_value", "msdynce_contactnumber", "lastname"} <= props
    navs = {n.get("Name") for n in contact.findall("edm:NavigationProperty", ns)}
    assert {"parentcustomerid_account", "parentcustomerid_contact", "owningbusinessunit"} <= navs
    sets = {s.get("Name") for s in schema.findall(".//edm:EntitySet", ns)}
    assert {"contacts", "accounts", "solutions", "msdynce_p2cautonumbers"} <= sets
    who = api.get("sales", "WhoAmI").json()
    unit = _values(api, "businessunits", **{"$filter": "name eq 'Contoso Sales'"})[0]
    assert who["BusinessUnitId"] == unit["businessunitid"]
    names = {s["name"] for s in api.get("sales", "").json()["value"]}
    assert "contacts" in names
    assert api.get("sales", "").headers["x-ms-dop-hint"] == str(api.running.settings.dop_hint)
