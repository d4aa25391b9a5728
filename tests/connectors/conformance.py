"""The conformance suite every connection type passes, as a base class to subclass
(singer-sdk's ``get_target_test_class`` is the model).

A connector's test module subclasses :class:`ConnectorConformance` once: it names the
registry entry under test (``kind``), whether its connections go through the emulator, and
overrides the ``connect`` fixture (how its connection to a system is made). The whole suite
then runs against it. A test that needs a system the type does not read or write is not
part of that type's suite.

Reads are compared with what the sandbox itself answers for the same request, so the engine
sees the same records whichever connector it uses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from connector_world import World
from engine_scenarios import ACCOUNT, BASE, PERSON, QUOTED

from p2c import ConfigError
from p2c.connectors import (
    Connection,
    ConnectionType,
    Destination,
    DryRun,
    Outcome,
    ReadRequest,
    SandboxSource,
    Source,
    System,
    check_connection,
    open_destination,
    open_source,
)
from p2c.odata import parse_filter
from p2c.sandbox import FinOpsSandbox, SalesSandbox
from p2c.workspace import Workspace, init_workspace

Connect = Callable[[System, Any], Connection]
"""How a test class makes its connection to a system, given the running emulator (or None)."""

T = TypeVar("T", bound=Callable[..., Any])
SYSTEMS: tuple[System, ...] = ("sales", "finops", "cds")
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


def reads(*systems: System) -> Callable[[T], T]:
    """The test reads these systems: only types that read them run it."""

    def mark(test: T) -> T:
        test.reads = systems  # type: ignore[attr-defined]
        return test

    return mark


def writes(*systems: System) -> Callable[[T], T]:
    """The test writes these systems: only types that write them run it."""

    def mark(test: T) -> T:
        test.writes = systems  # type: ignore[attr-defined]
        return test

    return mark


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


def count_closes(connector: Source | Destination) -> list[bool]:
    """``connector.close`` records each call (and still closes)."""
    closed: list[bool] = []
    close = connector.close

    def counted() -> None:
        closed.append(True)
        close()

    connector.close = counted  # type: ignore[method-assign]
    return closed


KEYED: dict[System, str] = {"sales": "contacts", "finops": "CustomersV2", "cds": "Account"}
KEYS: dict[System, tuple[str, ...]] = {
    "sales": ("contactid",),
    "finops": ("dataAreaId", "CustomerAccount"),
    "cds": ("Organization_OrganizationId", "AccountNumber"),
}


class ConnectorConformance:
    """The suite; subclass it as ``Test<Type>Connector`` to run it on a connection type."""

    kind: ClassVar[ConnectionType[Any]]
    """The registry entry under test."""
    through_emulator: ClassVar[bool] = False
    """Whether the type's connections reach the workspace through the emulator (HTTPS)."""
    layout: ClassVar[str] = "paths"
    """The emulator's layout: ``paths`` (``{base}/sales``) or ``ports`` (a host root each)."""
    finds_last: ClassVar[bool] = True
    """Whether its sources find a read's last record without reading the others
    (``Source.last``); one that cannot answers None, and a cursor passes only what it read."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Tests of systems the type does not read or write are not part of its suite.
        for name in dir(cls):
            test = getattr(cls, name)
            if not name.startswith("test_") or not callable(test):
                continue
            if not set(getattr(test, "reads", ())) <= set(cls.kind.systems) or not set(
                getattr(test, "writes", ())
            ) <= set(cls.kind.writes):
                setattr(cls, name, None)

    @pytest.fixture
    def connect(self) -> Connect:
        """Override: how a connection of the type under test to a system is made."""
        raise NotImplementedError(f"{type(self).__name__} must override the connect fixture")

    @pytest.fixture
    def make_world(self, tmp_path: Path, connect: Connect) -> Iterator[Callable[..., World]]:
        """A factory: a via-CDS workspace loaded with ``BASE`` (plus extras), and connections
        of the type under test; behind an emulator with the given settings if it is HTTP."""
        stack = ExitStack()
        worlds: list[World] = []

        def make(extra: dict[str, list[dict[str, Any]]] | None = None, **settings: Any) -> World:
            root = tmp_path / f"ws{len(worlds)}"
            init_workspace(root, via_cds=True)
            document = copy.deepcopy(BASE)
            for entity_set, records in (extra or {}).items():
                document.setdefault(entity_set, []).extend(copy.deepcopy(records))
            sales = Workspace.open(root).sales()
            sales.load(document)
            sales.close()
            running = None
            if self.through_emulator:
                from p2c.emulator import EmulatorSettings, serve

                chosen = EmulatorSettings(**{"layout": self.layout, **settings})
                running = stack.enter_context(serve(root, chosen))
            connections = {s: connect(s, running) for s in self.kind.systems}
            world = World(root, self.kind.name, connections, running)
            worlds.append(world)
            return world

        yield make
        for world in worlds:
            for connector in world.opened:
                connector.close()
        stack.close()

    @pytest.fixture
    def world(self, make_world: Callable[..., World]) -> World:
        return make_world()

    # the registry entry ----------------------------------------------------------------------

    def test_opens_a_source_for_each_system_it_serves(self, world: World) -> None:
        for system in self.kind.systems:
            source = open_source(world.connections[system], system, world.root, "test")
            closed = count_closes(source)
            with source as entered:
                assert entered is source
                assert source.record_key(KEYED[system]) == KEYS[system]
            assert closed == [True]

    def test_opens_a_destination_for_each_system_it_writes(self, world: World) -> None:
        for system in self.kind.writes:
            destination = open_destination(world.connections[system], system, world.root)
            closed = count_closes(destination)
            with destination as entered:
                assert entered is destination
                assert isinstance(destination, Destination)
            assert closed == [True]

    def test_refuses_what_it_does_not_serve(self, world: World) -> None:
        some = world.connections[self.kind.systems[0]]
        for system in SYSTEMS:
            if system not in self.kind.systems:
                with pytest.raises(ConfigError, match=f"type {self.kind.name}, which serves"):
                    open_source(some, system, world.root)
            if system not in self.kind.writes:
                with pytest.raises(ConfigError, match=f"type {self.kind.name}, which writes"):
                    open_destination(some, system, world.root)

    def test_check_signs_in_and_reads(self, world: World) -> None:
        for system in self.kind.systems:
            check = check_connection(world.connections[system], system, world.root, "test")
            assert (check.ok, check.fix) == (True, None), check
            assert check.label.startswith(f"test/{system} (")

    @writes("finops")
    def test_a_dry_run_writes_nothing(self, world: World, tmp_path: Path) -> None:
        connection = world.connections["finops"]
        if self.kind.dry_run is DryRun.SCRATCH_COPY:
            copied = self.kind.scratch_copy(connection, world.root, tmp_path / "scratch")
            with open_destination(copied, "finops", world.root) as scratch:
                results = scratch.upsert("CustomersV2", CUSTOMER_KEY, customers(2))
        else:
            results = world.destination("finops").preview("CustomersV2", CUSTOMER_KEY, customers(2))
        assert statuses(results) == ["created"] * 2
        assert world.export("finops", "CustomersV2") == []

    # reading -------------------------------------------------------------------------------------

    @reads("sales")
    def test_read_with_filter_and_paging_returns_every_record_once(
        self,
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

    @reads("sales")
    def test_lookups_read_as_the_sandbox_reads_them(self, world: World) -> None:
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

    @reads("finops")
    def test_finops_read_with_filter_and_paging(self, world: World) -> None:
        _nine_customers(world)
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

    @reads("finops")
    def test_the_last_finops_record_found_is_the_last_one_read(self, world: World) -> None:
        _nine_customers(world)
        order = ("dataAreaId", "CustomerAccount")
        request = ReadRequest(
            "CustomersV2",
            (*order, "OrganizationName"),
            filter=parse_filter("CustomerGroupId eq '10'"),
            page_size=3,
            order_by=order,
        )
        self._check_last(world, "finops", request, "CustomerGroupId eq 'none'")

    @reads("sales")
    def test_rows_are_the_records_values_in_the_order_of_the_names(self, world: World) -> None:
        request = ReadRequest(
            "contacts",
            ("contactid", "lastname", "donotemail", "msdynce_isactivecustomer"),
            lookups=("parentcustomerid.accountnumber",),
            page_size=2,
        )
        names = request.names
        assert names == (*request.columns, "parentcustomerid.accountnumber")
        records = [r for page in read_all(world, "sales", request) for r in page]
        pages = list(world.source("sales").read_rows(request))
        assert all(len(page) <= 2 for page in pages)
        rows = [row for page in pages for row in page]
        assert rows == [tuple(r[n] for n in names) for r in records]
        assert {type(row[2]) for row in rows} == {bool}

    @reads("sales")
    def test_the_last_record_found_is_the_last_one_read(
        self, make_world: Callable[..., World]
    ) -> None:
        world = make_world(_drop_nulls(MORE_CONTACTS))
        order = ("modifiedon", "contactid")
        request = ReadRequest(
            "contacts",
            order,
            filter=parse_filter("msdynce_isactivecustomer eq false"),
            page_size=4,
            order_by=order,
        )
        self._check_last(world, "sales", request, "lastname eq 'Nobody'")

    def _check_last(self, world: World, system: System, request: ReadRequest, none: str) -> None:
        """``last`` finds the last record the read gives, and nothing where it gives none."""
        records = [r for page in read_all(world, system, request) for r in page]
        source = world.source(system)
        assert source.last(request) == (records[-1] if self.finds_last else None)
        assert source.last(replace(request, filter=parse_filter(none))) is None

    # writing -------------------------------------------------------------------------------------

    @writes("finops")
    def test_rows_are_upserted_as_their_records(self, world: World) -> None:
        destination = world.destination("finops")
        destination.upsert("CustomersV2", CUSTOMER_KEY, customers(2))
        records = customers(4)
        records[1]["OrganizationName"] = "Renamed"
        records[3]["CustomerGroupId"] = "99"
        fields = tuple(records[0])
        rows = [tuple(r.values()) for r in records]
        results = destination.upsert_rows("CustomersV2", CUSTOMER_KEY, fields, rows)
        assert statuses(results) == ["unchanged", "updated", "created", "failed"]
        assert results[3].field == "CustomerGroupId"
        assert [r.key for r in results] == [("usmf", f"CUST-{i:03d}") for i in range(4)]
        stored = {r["CustomerAccount"]: r for r in world.export("finops", "CustomersV2")}
        assert set(stored) == {"CUST-000", "CUST-001", "CUST-002"}
        assert stored["CUST-001"]["OrganizationName"] == "Renamed"

    @writes("finops")
    def test_upsert_creates_updates_and_leaves_unchanged(self, world: World) -> None:
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

    @writes("finops")
    def test_a_repeated_upsert_writes_nothing(self, world: World) -> None:
        destination = world.destination("finops")
        records = customers(6)
        destination.upsert("CustomersV2", CUSTOMER_KEY, records)
        before = world.export("finops", "CustomersV2")
        assert (
            statuses(destination.upsert("CustomersV2", CUSTOMER_KEY, records)) == ["unchanged"] * 6
        )
        assert world.export("finops", "CustomersV2") == before

    @writes("finops")
    def test_records_marked_new_that_exist_are_updated_not_duplicated(self, world: World) -> None:
        destination = world.destination("finops")
        destination.upsert("CustomersV2", CUSTOMER_KEY, customers(3))
        again = customers(4)
        again[1]["OrganizationName"] = "Renamed"
        # p2c believes all four are new (say its state was lost): three exist already.
        results = destination.upsert("CustomersV2", CUSTOMER_KEY, again, new=[True] * 4)
        assert statuses(results) == ["unchanged", "updated", "unchanged", "created"]
        stored = world.export("finops", "CustomersV2")
        assert len(stored) == 4
        assert {r["CustomerAccount"]: r for r in stored}["CUST-001"][
            "OrganizationName"
        ] == "Renamed"

    @writes("finops")
    def test_one_rejected_record_does_not_stop_the_others(self, world: World) -> None:
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

    @writes("finops")
    def test_a_key_twice_in_one_batch_is_written_in_order(self, world: World) -> None:
        records = [*customers(2), customers(1, OrganizationName="Second")[0]]
        results = world.destination("finops").upsert("CustomersV2", CUSTOMER_KEY, records)
        assert statuses(results) == ["created", "created", "updated"]
        stored = {r["CustomerAccount"]: r for r in world.export("finops", "CustomersV2")}
        assert stored["CUST-000"]["OrganizationName"] == "Second"

    @writes("cds")
    def test_cds_hub_upsert_by_organization_and_number(self, world: World) -> None:
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

    @reads("sales")
    def test_throttled_reads_lose_nothing(self, make_world: Callable[..., World]) -> None:
        world = make_world(_drop_nulls(MORE_CONTACTS), requests_per_window=3, window_seconds=1.0)
        pages = read_all(world, "sales", ReadRequest("contacts", ("contactid",), page_size=5))
        assert len({r["contactid"] for p in pages for r in p}) == 6 + 17
        if world.http:
            assert world.running.stats.throttled > 0

    @writes("finops")
    def test_throttled_writes_lose_nothing(self, make_world: Callable[..., World]) -> None:
        world = make_world(requests_per_window=3, window_seconds=1.0)
        destination = world.destination("finops")
        # Four pages of five: with $batch, more requests than the limit lets through at once.
        results = [
            result
            for start in range(0, 20, 5)
            for result in destination.upsert("CustomersV2", CUSTOMER_KEY, customers(5, start))
        ]
        assert statuses(results) == ["created"] * 20
        assert len(world.export("finops", "CustomersV2")) == 20
        if world.http:
            assert world.running.stats.throttled > 0

    @reads("sales")
    def test_contact_of_quoted_account_reads_its_company(self, world: World) -> None:
        request = ReadRequest(
            "contacts",
            ("contactid",),
            lookups=("parentcustomerid.accountnumber",),
            filter=parse_filter(f"contactid eq '{QUOTED}'"),
        )
        (record,) = [r for page in read_all(world, "sales", request) for r in page]
        assert record["parentcustomerid.accountnumber"].startswith("ACC-")


def _nine_customers(world: World) -> None:
    """Seven customers of group 10 and two of group 20 in the workspace's F&O."""
    store = FinOpsSandbox(world.root / "sandbox/finops.db")
    store.upsert("CustomersV2", [*customers(7), *customers(2, 10, CustomerGroupId="20")])
    store.close()
