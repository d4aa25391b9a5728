"""One suite every connector passes: the in-process sandbox connector, and the Dataverse and
F&O connectors over HTTPS against the emulator (with ``$batch`` and with single requests).

Reads are compared with what the sandbox itself answers for the same request, so the engine
sees the same records whichever connector it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector_world import World
from engine_scenarios import ACCOUNT, PERSON, QUOTED

from p2c.connectors import Outcome, ReadRequest, SandboxSource
from p2c.odata import parse_filter
from p2c.sandbox import FinOpsSandbox, SalesSandbox

CUSTOMER_KEY = ["dataAreaId", "CustomerAccount"]
MORE_CONTACTS = {
    "contacts": [
        {
            "firstname": f"Test{n}",
            "lastname": f"L'Person {n}",  # a quote in the text: filters must escape it
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})" if n % 2 else None,
            "donotemail": n % 3 == 0,
        }
        for n in range(17)
    ]
}


def _drop_nulls(document: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        s: [{k: v for k, v in r.items() if v is not None} for r in rs] for s, rs in document.items()
    }


def read_all(world: World, system: str, request: ReadRequest) -> list[list[dict[str, Any]]]:
    return list(world.source(system).read(request))  # type: ignore[arg-type]


def in_process(world: World, system: str, request: ReadRequest) -> list[dict[str, Any]]:
    store = (
        SalesSandbox(world.root / "sandbox/sales.db")
        if system == "sales"
        else FinOpsSandbox(world.root / "sandbox/finops.db")
    )
    try:
        return [r for page in SandboxSource(store).read(request) for r in page]
    finally:
        store.close()


def customers(n: int, start: int = 0, **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "dataAreaId": "usmf",
            "CustomerAccount": f"CUST-{i:03d}",
            "PartyType": "Organization",
            "OrganizationName": f"Org {i}",
            "CustomerGroupId": "10",
            "IsExternallyMaintained": "Yes",
            **fields,
        }
        for i in range(start, start + n)
    ]


def statuses(results: list[Outcome]) -> list[str]:
    return [r.status for r in results]


# reading -------------------------------------------------------------------------------------


def test_read_with_filter_and_paging_returns_every_record_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(_drop_nulls(MORE_CONTACTS))
    request = ReadRequest(
        "contacts",
        ("contactid", "firstname", "lastname", "donotemail", "msdynce_isactivecustomer"),
        filter=parse_filter(
            "startswith(lastname,'L''Person') and msdynce_isactivecustomer eq false"
        ),
        page_size=4,
    )
    pages = read_all(world, "sales", request)
    records = [r for page in pages for r in page]
    assert all(len(page) <= 4 for page in pages)
    assert len(pages) == 5  # 17 records, 4 a page
    assert len({r["contactid"] for r in records}) == len(records) == 17
    expected = in_process(world, "sales", request)
    key = lambda r: r["contactid"]  # noqa: E731
    assert sorted(records, key=key) == sorted(expected, key=key)
    assert {type(r["donotemail"]) for r in records} == {bool}


def test_lookups_read_as_the_sandbox_reads_them(world: World) -> None:
    request = ReadRequest(
        "contacts",
        ("contactid", "msdynce_contactnumber", "parentcustomerid", "transactioncurrencyid"),
        lookups=(
            "parentcustomerid.accountnumber",
            "parentcustomerid.emailaddress1",  # both targets have it
            "parentcustomerid.msdynce_contactnumber",  # only a contact has it
            "owningbusinessunit.name",
        ),
    )
    records = [r for page in read_all(world, "sales", request) for r in page]
    key = lambda r: r["contactid"]  # noqa: E731
    assert sorted(records, key=key) == sorted(in_process(world, "sales", request), key=key)
    by_id = {r["contactid"]: r for r in records}
    assert by_id[PERSON]["parentcustomerid"] == ACCOUNT
    assert by_id[PERSON]["parentcustomerid.accountnumber"].startswith("ACC-")
    assert by_id[PERSON]["owningbusinessunit.name"] == "Contoso Sales"


def test_finops_read_with_filter_and_paging(world: World) -> None:
    store = FinOpsSandbox(world.root / "sandbox/finops.db")
    store.upsert("CustomersV2", [*customers(7), *customers(2, 10, CustomerGroupId="20")])
    store.close()
    request = ReadRequest(
        "CustomersV2",
        ("dataAreaId", "CustomerAccount", "OrganizationName", "IsExternallyMaintained"),
        filter=parse_filter("dataAreaId eq 'usmf' and CustomerGroupId eq '10'"),
        page_size=3,
    )
    pages = read_all(world, "finops", request)
    records = [r for page in pages for r in page]
    assert all(len(page) <= 3 for page in pages)
    assert len(records) == 7
    key = lambda r: r["CustomerAccount"]  # noqa: E731
    assert sorted(records, key=key) == sorted(in_process(world, "finops", request), key=key)
    assert world.source("finops").record_key("CustomersV2") == ("dataAreaId", "CustomerAccount")


# writing -------------------------------------------------------------------------------------


def test_upsert_creates_updates_and_leaves_unchanged(world: World) -> None:
    destination = world.destination("finops")
    first = customers(5)
    assert statuses(destination.upsert("CustomersV2", CUSTOMER_KEY, first)) == ["created"] * 5
    second = customers(5)
    second[1]["OrganizationName"] = "Renamed"
    second[3]["IsExternallyMaintained"] = "No"
    results = destination.upsert("CustomersV2", CUSTOMER_KEY, second)
    assert statuses(results) == ["unchanged", "updated", "unchanged", "updated", "unchanged"]
    assert [r.key for r in results] == [("usmf", f"CUST-{i:03d}") for i in range(5)]
    stored = {r["CustomerAccount"]: r for r in world.export("finops", "CustomersV2")}
    assert stored["CUST-001"]["OrganizationName"] == "Renamed"
    assert stored["CUST-003"]["IsExternallyMaintained"] == "No"
    assert stored["CUST-000"]["PartyNumber"]  # F&O's own defaults applied on create


def test_a_repeated_upsert_writes_nothing(world: World) -> None:
    destination = world.destination("finops")
    records = customers(6)
    destination.upsert("CustomersV2", CUSTOMER_KEY, records)
    before = world.export("finops", "CustomersV2")
    assert statuses(destination.upsert("CustomersV2", CUSTOMER_KEY, records)) == ["unchanged"] * 6
    assert world.export("finops", "CustomersV2") == before


def test_records_marked_new_that_exist_are_updated_not_duplicated(world: World) -> None:
    destination = world.destination("finops")
    destination.upsert("CustomersV2", CUSTOMER_KEY, customers(3))
    again = customers(4)
    again[1]["OrganizationName"] = "Renamed"
    # p2c believes all four are new (say its state was lost): three exist already.
    results = destination.upsert("CustomersV2", CUSTOMER_KEY, again, new=[True] * 4)
    assert statuses(results) == ["unchanged", "updated", "unchanged", "created"]
    stored = world.export("finops", "CustomersV2")
    assert len(stored) == 4
    assert {r["CustomerAccount"]: r for r in stored}["CUST-001"]["OrganizationName"] == "Renamed"


def test_one_rejected_record_does_not_stop_the_others(world: World) -> None:
    records = customers(5)
    records[2]["CustomerGroupId"] = "99"
    records[4]["Bogus"] = "x"
    results = world.destination("finops").upsert("CustomersV2", CUSTOMER_KEY, records)
    assert statuses(results) == ["created", "created", "failed", "created", "failed"]
    assert results[2].field == "CustomerGroupId"
    assert "'99'" in (results[2].message or "")
    assert not results[2].retryable
    assert results[4].field == "Bogus"
    stored = {r["CustomerAccount"] for r in world.export("finops", "CustomersV2")}
    assert stored == {"CUST-000", "CUST-001", "CUST-003"}


def test_a_key_twice_in_one_batch_is_written_in_order(world: World) -> None:
    records = [*customers(2), customers(1, OrganizationName="Second")[0]]
    results = world.destination("finops").upsert("CustomersV2", CUSTOMER_KEY, records)
    assert statuses(results) == ["created", "created", "updated"]
    stored = {r["CustomerAccount"]: r for r in world.export("finops", "CustomersV2")}
    assert stored["CUST-000"]["OrganizationName"] == "Second"


def test_cds_hub_upsert_by_organization_and_number(world: World) -> None:
    destination = world.destination("cds")
    key = ["Organization_OrganizationId", "AccountNumber"]
    records = [
        {"Organization_OrganizationId": "ORG001", "AccountNumber": f"A{i}", "Name": f"N{i}"}
        for i in range(3)
    ]
    assert statuses(destination.upsert("Account", key, records)) == ["created"] * 3
    records[0]["Name"] = "Changed"
    assert statuses(destination.upsert("Account", key, records)) == [
        "updated",
        "unchanged",
        "unchanged",
    ]
    bad = [{"Organization_OrganizationId": "NOPE", "AccountNumber": "A9", "Name": "x"}]
    (result,) = destination.upsert("Account", key, bad)
    assert result.status == "failed"
    assert "'NOPE'" in (result.message or "")
    # The field comes with the reason in-process; over OData only when the message names it,
    # and this message names the organization, not the field.
    assert result.field == (None if world.http else "Organization_OrganizationId")


def test_throttled_requests_lose_nothing(make_world: Callable[..., World]) -> None:
    world = make_world(_drop_nulls(MORE_CONTACTS), requests_per_window=3, window_seconds=1.0)
    pages = read_all(world, "sales", ReadRequest("contacts", ("contactid",), page_size=5))
    assert len({r["contactid"] for p in pages for r in p}) == 6 + 17
    destination = world.destination("finops")
    results = destination.upsert("CustomersV2", CUSTOMER_KEY, customers(20))
    assert statuses(results) == ["created"] * 20
    assert len(world.export("finops", "CustomersV2")) == 20
    if world.http:
        assert world.running.stats.throttled > 0


def test_contact_of_quoted_account_reads_its_company(world: World) -> None:
    request = ReadRequest(
        "contacts",
        ("contactid",),
        lookups=("parentcustomerid.accountnumber",),
        filter=parse_filter(f"contactid eq '{QUOTED}'"),
    )
    (record,) = [r for page in read_all(world, "sales", request) for r in page]
    assert record["parentcustomerid.accountnumber"].startswith("ACC-")
