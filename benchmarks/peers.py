"""Benchmark: p2c against a peer, dlt, doing the same job on N sample contacts.

The job: the sandbox Sales's accounts and contacts to F&O's customers and contact persons,
by the Direct templates' routing and mapping, upserted by key. p2c runs every project (its
engine, the F&O rules, lineage, the error queue) in a child process, as run_all.py does.
dlt (``pip install -e ".[bench]"``) reads the same rows from the Sales SQLite file, maps
them in Python the same way and merges them by the same keys into DuckDB, its local
destination; it checks no F&O rule and keeps no per-record outcome, so it is the cost of
moving and mapping the data with a general-purpose loader.

    .venv/bin/python benchmarks/peers.py 100000
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p2c.sandbox import sample_document
from p2c.workspace import init_workspace

ADDRESS = "address1_line1, address1_city, address1_postalcode, address1_stateorprovince"


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
    }
    if person:
        record.update(PersonFirstName=row["firstname"], PersonLastName=row["lastname"])
    else:
        record.update(OrganizationName=row["name"], SiteId="1", WarehouseId="13")
    return record


def dlt_job(sales: Path, folder: Path) -> tuple[float, int]:
    import dlt

    db = sqlite3.connect(sales)
    db.row_factory = sqlite3.Row

    @dlt.resource(
        table_name="customers_v2",
        write_disposition="merge",
        primary_key=("dataAreaId", "CustomerAccount"),
    )
    def customers() -> Iterator[dict[str, Any]]:
        for row in db.execute(
            f"SELECT accountnumber, name, emailaddress1, telephone1, {ADDRESS}, "
            "address1_country FROM account"
        ):
            yield _customer(row, person=False)
        for row in db.execute(
            f"SELECT msdynce_contactnumber, firstname, lastname, emailaddress1, telephone1, "
            f"{ADDRESS}, address1_country FROM contact WHERE msdynce_isactivecustomer = 1"
        ):
            yield _customer(row, person=True)

    @dlt.resource(
        table_name="cds_contact_persons",
        write_disposition="merge",
        primary_key=("dataAreaId", "ContactPersonPartyNumber", "AssociatedPartyNumber"),
    )
    def contact_persons() -> Iterator[dict[str, Any]]:
        for row in db.execute(
            "SELECT c.msdynce_contactnumber, a.accountnumber, c.firstname, c.lastname, "
            "c.jobtitle, c.emailaddress1, c.telephone1, c.address1_line1, c.address1_city, "
            "c.address1_postalcode, c.address1_stateorprovince, c.address1_country "
            "FROM contact c JOIN account a ON a.accountid = c.parentcustomerid "
            "WHERE c.msdynce_isactivecustomer = 0 AND c.msdynce_iscompanyanaccount = 1"
        ):
            yield {
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
            }

    pipeline = dlt.pipeline(
        pipeline_name="p2c_peer",
        pipelines_dir=str(folder / "dlt"),
        destination=dlt.destinations.duckdb(str(folder / "peer.duckdb")),
        dataset_name="finops",
        progress="log" if "--verbose" in sys.argv else None,
    )
    started = time.perf_counter()
    pipeline.run([customers(), contact_persons()])
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        rows = sum(
            client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
            for table in ("customers_v2", "cds_contact_persons")
        )
    db.close()
    return seconds, int(rows)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    contacts = int(args[0]) if args else 100_000
    folder = Path(tempfile.mkdtemp(prefix="p2c-peers-")) / "ws"
    ws = init_workspace(folder)
    sales = ws.sales()
    sales.load(sample_document(contacts))
    sales.close()
    run_all = Path(__file__).with_name("run_all.py")
    child = subprocess.run(
        [sys.executable, str(run_all), "run-phase", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    p2c = json.loads(child.stdout.strip().splitlines()[-1])
    seconds, rows = dlt_job(folder / "sandbox" / "sales.db", folder.parent)
    print(f"contacts: {contacts:,}")
    print(
        f"p2c (all projects, F&O rules, lineage, error queue): {p2c['seconds']:.2f} s, "
        f"{p2c['written']:,} records written, peak {p2c['peak_mb']:.0f} MB"
    )
    print(
        f"dlt {__import__('dlt').__version__} (same rows and mapping, merge into DuckDB, no "
        f"rules): {seconds:.2f} s, {rows:,} records"
    )
    print(f"ratio p2c / dlt: {p2c['seconds'] / seconds:.2f}x")
    shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main()
