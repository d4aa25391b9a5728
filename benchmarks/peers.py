"""Benchmark: p2c against a peer, dlt, doing the same job on N sample contacts.

The job: the sandbox Sales's accounts and contacts to F&O's customers and contact persons,
by the Direct templates' routing and mapping, upserted by key. p2c runs every project (its
engine, the F&O rules, lineage, the error queue) in a child process, as run_all.py does.
dlt (``pip install -e ".[bench]"``) reads the same rows from the Sales SQLite file, maps
them in Python the same way and merges them by the same keys into DuckDB (its local
destination, parquet files loaded) and, with ``--sqlite``, into SQLite; it checks no F&O
rule and keeps no per-record outcome, so it is the cost of moving and mapping the data
with a general-purpose loader.

Each round makes a fresh copy of the loaded Sales and runs every contender on it, in an
order that turns round by round (interleaved), first the whole job, then, after 1% of the
contacts changed in Sales, the job again: p2c incrementally (its cursor), dlt incrementally
too (by ``modifiedon``, its cursor in dlt's resource state). Printed: min / median / max of each,
and the ratio of dlt's best median to p2c's.

    .venv/bin/python benchmarks/peers.py 100000 [--rounds 3] [--sqlite]
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from p2c.sandbox import SalesSandbox, sample_document
from p2c.workspace import init_workspace

ADDRESS = "address1_line1, address1_city, address1_postalcode, address1_stateorprovince"
RERUN_SHARE = 100  # one contact in 100 changes before the rerun


def _customer(row: sqlite3.Row, person: bool) -> dict[str, Any]:
    number = row["accountnumber"] if not person else row["msdynce_contactnumber"]
    record = {
        "dataAreaId": "usmf",
        "CustomerAccount": number,
        "PartyNumber": number,
        "PartyType": "Person" if person else "Organization",
        "PrimaryContactEmail": row["emailaddress1"],
        "PrimaryContactPhone": row["telephone1"],
        "AddressStreet": row["address1_line1"],
        "AddressCity": row["address1_city"],
        "AddressZipCode": row["address1_postalcode"],
        "AddressState": row["address1_stateorprovince"],
        "AddressCountryRegionISOCode": row["address1_country"] or "USA",
        "CustomerGroupId": "10",
        "LanguageId": "en-us",
        "SalesCurrencyCode": "USD",
        "IsExternallyMaintained": "Yes",
        "modifiedon": row["modifiedon"],
    }
    if person:
        record.update(PersonFirstName=row["firstname"], PersonLastName=row["lastname"])
    else:
        record.update(OrganizationName=row["name"], SiteId="1", WarehouseId="13")
    return record


def _contact_person(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "dataAreaId": "usmf",
        "ContactPersonPartyNumber": row["msdynce_contactnumber"],
        "AssociatedPartyNumber": row["accountnumber"],
        "FirstName": row["firstname"],
        "LastName": row["lastname"],
        "EmploymentProfession": row["jobtitle"],
        "PrimaryEmailAddress": row["emailaddress1"],
        "PrimaryPhoneNumber": row["telephone1"],
        "PrimaryAddressStreet": row["address1_line1"],
        "PrimaryAddressCity": row["address1_city"],
        "PrimaryAddressZipCode": row["address1_postalcode"],
        "PrimaryAddressStateId": row["address1_stateorprovince"],
        "PrimaryAddressCountryRegionISOCode": row["address1_country"] or "USA",
        "IsContactPersonExternallyMaintained": "Yes",
        "modifiedon": row["modifiedon"],
    }


class _Since:
    """A resource's incremental cursor, kept in dlt's resource state: the greatest
    ``modifiedon`` loaded. (``dlt.sources.incremental`` keeps, to deduplicate, the hash of
    every record sharing the last value, which here is all of a load's to the second, and
    slows to a crawl; without that it dropped records. The next run reads after the value,
    not at it: what the sample load wrote shares one second, long past.)"""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.since = str(state.get("since", "1970-01-01T00:00:00Z"))
        self.latest = self.since

    def seen(self, record: dict[str, Any]) -> dict[str, Any]:
        self.latest = max(self.latest, record["modifiedon"])
        return record


@contextlib.contextmanager
def _changed_since() -> Iterator[_Since]:
    import dlt

    since = _Since(dlt.current.resource_state())
    yield since
    since.state["since"] = since.latest


def _pipeline(sales: Path, folder: Path, destination: str) -> Callable[[], tuple[float, int]]:
    """A dlt pipeline of the job into ``destination`` (duckdb or sqlite); each call runs it
    (incrementally after the first) and returns (seconds, records loaded)."""
    import dlt

    db = sqlite3.connect(sales)
    db.row_factory = sqlite3.Row

    @dlt.resource(
        table_name="customers_v2",
        write_disposition="merge",
        primary_key=("dataAreaId", "CustomerAccount"),
    )
    def customers() -> Iterator[dict[str, Any]]:
        with _changed_since() as after:
            for row in db.execute(
                f"SELECT accountnumber, name, emailaddress1, telephone1, {ADDRESS}, "
                "address1_country, modifiedon FROM account WHERE modifiedon > ?",
                (after.since,),
            ):
                yield after.seen(_customer(row, person=False))
            for row in db.execute(
                f"SELECT msdynce_contactnumber, firstname, lastname, emailaddress1, telephone1, "
                f"{ADDRESS}, address1_country, modifiedon FROM contact "
                "WHERE msdynce_isactivecustomer = 1 AND modifiedon > ?",
                (after.since,),
            ):
                yield after.seen(_customer(row, person=True))

    @dlt.resource(
        table_name="cds_contact_persons",
        write_disposition="merge",
        primary_key=("dataAreaId", "ContactPersonPartyNumber", "AssociatedPartyNumber"),
    )
    def contact_persons() -> Iterator[dict[str, Any]]:
        with _changed_since() as after:
            for row in db.execute(
                "SELECT c.msdynce_contactnumber, a.accountnumber, c.firstname, c.lastname, "
                "c.jobtitle, c.emailaddress1, c.telephone1, c.address1_line1, c.address1_city, "
                "c.address1_postalcode, c.address1_stateorprovince, c.address1_country, "
                "c.modifiedon FROM contact c JOIN account a ON a.accountid = c.parentcustomerid "
                "WHERE c.msdynce_isactivecustomer = 0 AND c.msdynce_iscompanyanaccount = 1 "
                "AND c.modifiedon > ?",
                (after.since,),
            ):
                yield after.seen(_contact_person(row))

    target: Any
    if destination == "sqlite":
        target = dlt.destinations.sqlalchemy(f"sqlite:///{folder / 'peer.sqlite'}")
    else:
        target = dlt.destinations.duckdb(str(folder / "peer.duckdb"))
    pipeline = dlt.pipeline(
        pipeline_name=f"p2c_peer_{destination}",
        pipelines_dir=str(folder / f"dlt-{destination}"),
        destination=target,
        dataset_name="finops",
        progress="log" if "--verbose" in sys.argv else None,
    )

    def run() -> tuple[float, int]:
        started = time.perf_counter()
        info = pipeline.run([customers(), contact_persons()])
        seconds = time.perf_counter() - started
        trace = pipeline.last_trace
        rows = sum(
            count
            for step in ([trace.last_normalize_info] if trace and trace.last_normalize_info else [])
            for table, count in step.row_counts.items()
            if not table.startswith("_dlt")
        )
        del info
        return seconds, rows

    return run


def _p2c(folder: Path) -> dict[str, Any]:
    run_all = Path(__file__).with_name("run_all.py")
    child = subprocess.run(
        [sys.executable, str(run_all), "run-phase", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


def _change_one_in_a_hundred(folder: Path) -> int:
    """1% of the contacts get a new phone number through Sales (their modifiedon moves)."""
    sales = SalesSandbox(folder / "sandbox" / "sales.db")
    try:
        ids = [
            i
            for (i,) in sales.store.db.execute(
                f"SELECT contactid FROM contact WHERE rowid % {RERUN_SHARE} = 0"
            )
        ]
        for n, contact in enumerate(ids):
            sales.update("contacts", contact, {"telephone1": f"555-{n:07d}"})
    finally:
        sales.close()
    return len(ids)


def _once(
    name: str, folder: Path, dlt_runs: dict[str, Callable[[], tuple[float, int]]], label: str
) -> float:
    """One run of one contender; its seconds."""
    if name == "p2c":
        figures = _p2c(folder)
        seconds, rows = figures["seconds"], figures["written"]
        extra = f", peak {figures['peak_mb']:.0f} MB, {figures['failed']} failed"
    else:
        seconds, rows = dlt_runs[name]()
        extra = ""
    print(f"  {label} {name}: {seconds:.2f} s, {rows:,} records{extra}")
    return float(seconds)


def _summary(label: str, seconds: list[float]) -> str:
    return (
        f"{label}: min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s, "
        f"max {max(seconds):.2f} s"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    contacts = int(args[0]) if args else 100_000
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    peers = ["duckdb", *(["sqlite"] if "--sqlite" in sys.argv else [])]
    base = Path(tempfile.mkdtemp(prefix="p2c-peers-"))
    loaded = base / "loaded"
    ws = init_workspace(loaded)
    sales = ws.sales()
    sales.load(sample_document(contacts))
    sales.close()
    # Past the cursor's settle time (5 s): the first runs pass every record loaded.
    time.sleep(6)
    names = ["p2c", *(f"dlt-{p}" for p in peers)]
    whole: dict[str, list[float]] = {n: [] for n in names}
    rerun: dict[str, list[float]] = {n: [] for n in names}
    print(f"contacts: {contacts:,}; rounds: {rounds}; dlt {__import__('dlt').__version__}")
    for round_ in range(rounds):
        folder = base / f"round-{round_}"
        shutil.copytree(loaded, folder)
        dlt_runs = {
            f"dlt-{p}": _pipeline(folder / "sandbox" / "sales.db", folder, p) for p in peers
        }

        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            whole[name].append(_once(name, folder, dlt_runs, f"round {round_ + 1} whole"))
        changed = _change_one_in_a_hundred(folder)
        print(f"  round {round_ + 1}: {changed:,} contacts changed in Sales")
        for name in order:
            rerun[name].append(_once(name, folder, dlt_runs, f"round {round_ + 1} 1% rerun"))
        shutil.rmtree(folder)
    for stage, table in (("whole job", whole), ("1% rerun", rerun)):
        print(f"{stage}:")
        for name in names:
            print("  " + _summary(name, table[name]))
        p2c = statistics.median(table["p2c"])
        best = min(statistics.median(table[n]) for n in names[1:])
        print(f"  ratio dlt's best median / p2c's median: {best / p2c:.1f}x")
    shutil.rmtree(base)


if __name__ == "__main__":
    main()
