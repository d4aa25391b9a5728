"""Benchmark: a full run of all projects on N sandbox contacts (with accounts and activity).

Prints the end-to-end time and rate of the engine, its peak memory (measured in a separate
process that does only the run), and, as the floor, the time of a plain-SQL copy of the
same rows (ATTACH + INSERT … SELECT) with the ratio.

    .venv/bin/python benchmarks/run_all.py 100000 [--via-cds]
"""

from __future__ import annotations

import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from p2c.engine import Engine, StateStore
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: after fork and exec, ru_maxrss still
    carries the parent's peak, which here is the sample-data load."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(folder: Path) -> None:
    """Child process: only the run, so that peak RSS is the run's own."""
    ws = Workspace.open(folder)
    state = StateStore(ws.state_url())
    started = time.perf_counter()
    result = Engine(ws, state).run(None)
    elapsed = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    written = sum(t.counts.created + t.counts.updated for t in result.tasks)
    failed = sum(t.counts.failed for t in result.tasks)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "peak_mb": peak_mb,
                "written": written,
                "failed": failed,
                "status": result.status,
            }
        )
    )


FLOOR_SQL = [
    """INSERT INTO CustomerV2 (dataAreaId, CustomerAccount, PartyNumber, PartyType,
         OrganizationName, PrimaryContactEmail, PrimaryContactPhone, AddressStreet, AddressCity,
         AddressZipCode, AddressState, AddressCountryRegionISOCode, CustomerGroupId, LanguageId,
         SiteId, WarehouseId, SalesCurrencyCode, IsExternallyMaintained)
       SELECT 'usmf', accountnumber, accountnumber, 'Organization', name, emailaddress1,
         telephone1, address1_line1, address1_city, address1_postalcode,
         address1_stateorprovince, COALESCE(address1_country, 'USA'), '10', 'en-us', '1', '13',
         'USD', 'Yes'
       FROM s.account""",
    """INSERT INTO CustomerV2 (dataAreaId, CustomerAccount, PartyNumber, PartyType,
         PersonFirstName, PersonLastName, PrimaryContactEmail, PrimaryContactPhone,
         AddressStreet, AddressCity, AddressZipCode, AddressState, AddressCountryRegionISOCode,
         CustomerGroupId, LanguageId, SalesCurrencyCode, IsExternallyMaintained)
       SELECT 'usmf', msdynce_contactnumber, msdynce_contactnumber, 'Person', firstname,
         lastname, emailaddress1, telephone1, address1_line1, address1_city,
         address1_postalcode, address1_stateorprovince, COALESCE(address1_country, 'USA'),
         '10', 'en-us', 'USD', 'Yes'
       FROM s.contact WHERE msdynce_isactivecustomer = 1""",
    """INSERT INTO CDSContactPerson (dataAreaId, ContactPersonPartyNumber,
         AssociatedPartyNumber, FirstName, LastName, EmploymentProfession, PrimaryEmailAddress,
         PrimaryPhoneNumber, PrimaryAddressStreet, PrimaryAddressCity, PrimaryAddressZipCode,
         PrimaryAddressStateId, PrimaryAddressCountryRegionISOCode,
         IsContactPersonExternallyMaintained)
       SELECT 'usmf', c.msdynce_contactnumber, a.accountnumber, c.firstname, c.lastname,
         c.jobtitle, c.emailaddress1, c.telephone1, c.address1_line1, c.address1_city,
         c.address1_postalcode, c.address1_stateorprovince, COALESCE(c.address1_country, 'USA'),
         'Yes'
       FROM s.contact c JOIN s.account a ON a.accountid = c.parentcustomerid
       WHERE c.msdynce_isactivecustomer = 0 AND c.msdynce_iscompanyanaccount = 1""",
]


def floor(sales: Path, empty_finops: Path) -> tuple[float, int]:
    """The same rows copied inside SQLite: no value ever becomes a Python object."""
    db = _floor_db(sales, empty_finops)
    started = time.perf_counter()
    db.execute("BEGIN")
    rows = sum(db.execute(sql).rowcount for sql in FLOOR_SQL)
    db.execute("COMMIT")
    return time.perf_counter() - started, rows


def round_trip_floor(sales: Path, empty_finops: Path, batch: int) -> float:
    """The same rows fetched into Python in pages and written back with ``executemany``, plus
    one lineage row each, with no logic at all: what any engine that handles records in
    Python pays before it maps, validates or decides anything."""
    db = _floor_db(sales, empty_finops)
    db.execute(
        "CREATE TEMP TABLE lineage (source_key TEXT PRIMARY KEY, destination_key TEXT, digest TEXT)"
    )
    started = time.perf_counter()
    for sql in FLOOR_SQL:
        head, select = sql.split("SELECT", 1)
        reader = db.execute("SELECT " + select)
        width = len(reader.description)
        insert = f"{head} VALUES ({', '.join('?' * width)})"
        while page := reader.fetchmany(batch):
            db.execute("BEGIN")
            db.executemany(insert, page)
            db.executemany(
                "INSERT INTO lineage VALUES (?, ?, ?)", [(r[1], r[1], r[2]) for r in page]
            )
            db.execute("COMMIT")
    return time.perf_counter() - started


def _floor_db(sales: Path, empty_finops: Path) -> sqlite3.Connection:
    copy = empty_finops.with_name(f"floor-{time.monotonic_ns()}.db")
    shutil.copy(empty_finops, copy)
    db = sqlite3.connect(copy, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("ATTACH ? AS s", (str(sales),))
    return db


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args and args[0] == "run-phase":
        run_phase(Path(args[1]))
        return
    contacts = int(args[0]) if args else 100_000
    via_cds = "--via-cds" in sys.argv
    folder = Path(tempfile.mkdtemp(prefix="p2c-bench-")) / "ws"
    ws = init_workspace(folder, via_cds=via_cds)
    shutil.copy(folder / "sandbox" / "finops.db", folder.parent / "floor-finops.db")
    sales = ws.sales()
    started = time.perf_counter()
    sales.load(sample_document(contacts))
    print(
        f"contacts: {contacts:,} (generation: {'via-cds' if via_cds else 'direct'}); "
        f"load into sandbox Sales: {time.perf_counter() - started:.1f} s"
    )
    sales.close()
    child = subprocess.run(
        [sys.executable, __file__, "run-phase", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    seconds = figures["seconds"]
    print(
        f"engine run, all projects: {seconds:.2f} s, {contacts / seconds:,.0f} contacts/s, "
        f"{figures['written']:,} records written, {figures['failed']} failed, "
        f"status {figures['status']}"
    )
    print(f"peak memory of the run process: {figures['peak_mb']:.0f} MB")
    sales_db, empty_finops = folder / "sandbox" / "sales.db", folder.parent / "floor-finops.db"
    floor_seconds, rows = floor(sales_db, empty_finops)
    print(f"plain-SQL floor (ATTACH + INSERT … SELECT, {rows:,} rows): {floor_seconds:.2f} s")
    print(f"ratio engine / floor: {seconds / floor_seconds:.1f}x")
    trip = round_trip_floor(sales_db, empty_finops, 5000)
    print(
        f"Python round-trip floor (same rows fetched and written back, no logic): {trip:.2f} s, "
        f"{contacts / trip:,.0f} contacts/s; ratio engine / round trip: {seconds / trip:.1f}x"
    )
    shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main()
