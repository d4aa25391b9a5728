"""Benchmark: a full run of all projects on N sandbox contacts (with accounts and activity).

Prints the end-to-end time and rate of the engine, its peak memory (measured in a separate
process that does only the run), and, as the floor, the time of a plain-SQL copy of the
same rows (ATTACH + INSERT … SELECT) with the ratio; via CDS the floor makes both copies the
run makes (Sales to the hub, the hub to F&O). Both floors, like the run, include closing
what they wrote: SQLite's log copied into the database file.

    .venv/bin/python benchmarks/run_all.py 100000 [--via-cds] [--rounds 3]

Each round runs on a fresh copy of the loaded workspace, with both floors measured on the
same copy; the figures are the medians of the rounds.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import apsw

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


# Via CDS the run copies every record twice: Sales to the hub, then the hub to F&O.
_HUB_ADDRESS = (
    "MailingAddress_Line1, MailingAddress_City, MailingAddress_PostalCode, "
    "MailingAddress_StateOrProvince, MailingAddress_Country"
)
_SALES_ADDRESS = (
    "address1_line1, address1_city, address1_postalcode, address1_stateorprovince, address1_country"
)
FLOOR_SQL_TO_HUB = [
    f"""INSERT INTO Account (Organization_OrganizationId, AccountNumber, Name, PartyType,
         PrimaryEmail, PrimaryPhone, {_HUB_ADDRESS})
       SELECT 'ORG001', accountnumber, name, 'Organization', emailaddress1, telephone1,
         {_SALES_ADDRESS}
       FROM s.account""",
    f"""INSERT INTO Account (Organization_OrganizationId, AccountNumber, Name, PartyType,
         FirstName, LastName, PrimaryEmail, PrimaryPhone, {_HUB_ADDRESS})
       SELECT 'ORG001', msdynce_contactnumber, firstname || ' ' || lastname, 'Person',
         firstname, lastname, emailaddress1, telephone1, {_SALES_ADDRESS}
       FROM s.contact WHERE msdynce_isactivecustomer = 1""",
    f"""INSERT INTO Contact (Organization_OrganizationId, ContactNumber, FirstName, LastName,
         JobTitle, PrimaryEmail, PrimaryPhone, {_HUB_ADDRESS}, PrimaryAccount_AccountNumber,
         PrimaryAccount_Organization_OrganizationId)
       SELECT 'ORG001', c.msdynce_contactnumber, c.firstname, c.lastname, c.jobtitle,
         c.emailaddress1, c.telephone1, c.address1_line1, c.address1_city,
         c.address1_postalcode, c.address1_stateorprovince, c.address1_country,
         a.accountnumber, 'ORG001'
       FROM s.contact c JOIN s.account a ON a.accountid = c.parentcustomerid
       WHERE c.msdynce_isactivecustomer = 0 AND c.msdynce_iscompanyanaccount = 1""",
]
FLOOR_SQL_FROM_HUB = [
    """INSERT INTO CustomerV2 (dataAreaId, CustomerAccount, PartyNumber, PartyType,
         OrganizationName, PrimaryContactEmail, PrimaryContactPhone, AddressStreet, AddressCity,
         AddressZipCode, AddressState, AddressCountryRegionISOCode, CustomerGroupId, LanguageId,
         SiteId, WarehouseId, SalesCurrencyCode, IsExternallyMaintained)
       SELECT 'usmf', AccountNumber, AccountNumber, 'Organization', Name, PrimaryEmail,
         PrimaryPhone, MailingAddress_Line1, MailingAddress_City, MailingAddress_PostalCode,
         MailingAddress_StateOrProvince, COALESCE(MailingAddress_Country, 'USA'), '10',
         'en-us', '1', '13', 'USD', 'Yes'
       FROM s.Account WHERE PartyType = 'Organization'""",
    """INSERT INTO CustomerV2 (dataAreaId, CustomerAccount, PartyNumber, PartyType,
         PersonFirstName, PersonLastName, PrimaryContactEmail, PrimaryContactPhone,
         AddressStreet, AddressCity, AddressZipCode, AddressState, AddressCountryRegionISOCode,
         CustomerGroupId, LanguageId, SalesCurrencyCode, IsExternallyMaintained)
       SELECT 'usmf', AccountNumber, AccountNumber, 'Person', FirstName, LastName,
         PrimaryEmail, PrimaryPhone, MailingAddress_Line1, MailingAddress_City,
         MailingAddress_PostalCode, MailingAddress_StateOrProvince,
         COALESCE(MailingAddress_Country, 'USA'), '10', 'en-us', 'USD', 'Yes'
       FROM s.Account WHERE PartyType = 'Person'""",
    """INSERT INTO CDSContactPerson (dataAreaId, ContactPersonPartyNumber,
         AssociatedPartyNumber, FirstName, LastName, EmploymentProfession, PrimaryEmailAddress,
         PrimaryPhoneNumber, PrimaryAddressStreet, PrimaryAddressCity, PrimaryAddressZipCode,
         PrimaryAddressStateId, PrimaryAddressCountryRegionISOCode,
         IsContactPersonExternallyMaintained)
       SELECT 'usmf', ContactNumber, PrimaryAccount_AccountNumber, FirstName, LastName,
         JobTitle, PrimaryEmail, PrimaryPhone, MailingAddress_Line1, MailingAddress_City,
         MailingAddress_PostalCode, MailingAddress_StateOrProvince,
         COALESCE(MailingAddress_Country, 'USA'), 'Yes'
       FROM s.Contact WHERE PrimaryAccount_AccountNumber IS NOT NULL""",
]


def floor(sales: Path, empty: Path, via_cds: bool) -> tuple[float, int]:
    """The same rows copied inside SQLite: no value ever becomes a Python object. Via CDS,
    both copies the run makes: Sales to the hub, and the hub to F&O."""
    if not via_cds:
        return _copy(_floor_db(sales, empty / "finops.db"), FLOOR_SQL)
    hub = _floor_db(sales, empty / "cds.db")
    hub_file = Path(hub.execute("PRAGMA database_list").fetchone()[2])
    to_hub, hub_rows = _copy(hub, FLOOR_SQL_TO_HUB)
    to_finops, rows = _copy(_floor_db(hub_file, empty / "finops.db"), FLOOR_SQL_FROM_HUB)
    return to_hub + to_finops, hub_rows + rows


def _copy(db: sqlite3.Connection, statements: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    db.execute("BEGIN")
    rows = sum(db.execute(sql).rowcount for sql in statements)
    db.execute("COMMIT")
    db.close()  # as the run closes its destinations: SQLite's log copied into the file
    return time.perf_counter() - started, rows


_JOURNAL = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=16384",
)


def movement_floor(folder: Path, empty: Path, batch: int) -> tuple[float, int]:
    """Every value the run moved, moved again with no logic at all.

    The rows the run wrote (the columns it set) are fetched in pages and written into empty
    copies of the destinations through the sandbox's driver, and its lineage rows into an
    empty state database through the state's: what any engine that handles records in
    Python pays before it maps, validates or decides anything. Returns (seconds, values).
    """
    seconds, values = 0.0, 0
    for system in ("finops", "cds"):
        written = folder / "sandbox" / f"{system}.db"
        if not written.exists():
            continue
        target = empty.with_name(f"{system}-{time.monotonic_ns()}.db")
        shutil.copy(empty / f"{system}.db", target)
        source, copy = apsw.Connection(str(written)), apsw.Connection(str(target))
        for pragma in _JOURNAL:  # as the sandbox's
            copy.execute(pragma)
        for table in _written_tables(source, copy):
            columns = [
                c
                for (c,) in source.execute(f'SELECT name FROM pragma_table_info("{table}")')
                if _scalar(source, f'SELECT count("{c}") FROM "{table}"')
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            insert = f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})'
            started = time.perf_counter()
            rows = iter(source.execute(f'SELECT {names} FROM "{table}"'))
            while page := list(itertools.islice(rows, batch)):
                copy.execute("BEGIN")
                copy.executemany(insert, page)
                copy.execute("COMMIT")
                values += len(page) * len(columns)
            seconds += time.perf_counter() - started
        started = time.perf_counter()
        copy.close()  # as the run closes its destinations: SQLite's log copied into the file
        seconds += time.perf_counter() - started
        source.close()
    state = sqlite3.connect(folder / "state.db")
    lineage = state.execute("SELECT * FROM record_lineage").fetchall()
    fresh = sqlite3.connect(empty.with_name(f"state-{time.monotonic_ns()}.db"))
    for pragma in _JOURNAL:  # as the state's
        fresh.execute(pragma)
    fresh.execute(
        "CREATE TABLE record_lineage (leg_id, source_key, source_entity, destination_entity, "
        "destination_key, run_id, digest, PRIMARY KEY (leg_id, source_key))"
    )
    upsert = (
        "INSERT INTO record_lineage VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "destination_key = excluded.destination_key, run_id = excluded.run_id, "
        "digest = excluded.digest"
    )
    started = time.perf_counter()
    for start in range(0, len(lineage), batch):
        with fresh:
            fresh.executemany(upsert, lineage[start : start + batch])
    fresh.close()
    seconds += time.perf_counter() - started
    return seconds, values + len(lineage) * 7


def _written_tables(written: apsw.Connection, empty: apsw.Connection) -> list[str]:
    """Tables that hold more rows after the run than before it."""
    tables = [
        name
        for (name,) in written.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        )
    ]
    count = 'SELECT count(*) FROM "{}"'
    return [
        t for t in tables if _scalar(written, count.format(t)) > _scalar(empty, count.format(t))
    ]


def _scalar(db: apsw.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _floor_db(source: Path, empty: Path) -> sqlite3.Connection:
    """A fresh copy of the empty destination, with the source attached as ``s``."""
    copy = empty.with_name(f"floor-{time.monotonic_ns()}.db")
    shutil.copy(empty, copy)
    db = sqlite3.connect(copy, isolation_level=None)
    for pragma in _JOURNAL:
        db.execute(pragma)
    db.execute("ATTACH ? AS s", (str(source),))
    return db


def main() -> None:
    argv = sys.argv[1:]
    args = [a for i, a in enumerate(argv) if not a.startswith("--") and argv[i - 1] != "--rounds"]
    if args and args[0] == "run-phase":
        run_phase(Path(args[1]))
        return
    contacts = int(args[0]) if args else 100_000
    via_cds = "--via-cds" in sys.argv
    folder = Path(tempfile.mkdtemp(prefix="p2c-bench-")) / "ws"
    ws = init_workspace(folder, via_cds=via_cds)
    # The destinations as they are before the run, for the floors.
    empty = folder.parent / "empty"
    empty.mkdir()
    for system in ("finops", "cds"):
        if (folder / "sandbox" / f"{system}.db").exists():
            shutil.copy(folder / "sandbox" / f"{system}.db", empty)
    sales = ws.sales()
    started = time.perf_counter()
    sales.load(sample_document(contacts))
    print(
        f"contacts: {contacts:,} (generation: {'via-cds' if via_cds else 'direct'}); "
        f"load into sandbox Sales: {time.perf_counter() - started:.1f} s"
    )
    sales.close()
    rounds = _option("--rounds", 3)
    engine, floors, moves = [], [], []
    for number in range(1, rounds + 1):
        # Each round on a fresh copy of the loaded workspace, its writes on disk first:
        # no round pays for the writing-back of the load or of another round.
        copy = folder.parent / f"round-{number}"
        shutil.copytree(folder, copy)
        os.sync()
        figures = _run(copy)
        floor_seconds, rows = floor(copy / "sandbox" / "sales.db", empty, via_cds)
        moved, values = movement_floor(copy, empty, 5000)
        engine.append(figures["seconds"])
        floors.append(floor_seconds)
        moves.append(moved)
        print(
            f"round {number}: engine {figures['seconds']:.2f} s ({figures['written']:,} records "
            f"written, {figures['failed']} failed, status {figures['status']}, peak memory "
            f"{figures['peak_mb']:.0f} MB); plain-SQL floor {floor_seconds:.2f} s; "
            f"data-movement floor {moved:.2f} s"
        )
        shutil.rmtree(copy)
    seconds, floor_seconds, moved = map(statistics.median, (engine, floors, moves))
    print(
        f"engine run, all projects (median of {rounds}, min {min(engine):.2f} s, max "
        f"{max(engine):.2f} s): {seconds:.2f} s, {contacts / seconds:,.0f} contacts/s"
    )
    print(f"plain-SQL floor (ATTACH + INSERT … SELECT, {rows:,} rows): {floor_seconds:.2f} s")
    print(f"ratio engine / floor: {seconds / floor_seconds:.1f}x")
    print(
        f"data-movement floor (the {values:,} values this run wrote and its lineage, fetched "
        f"and written again with no logic): {moved:.2f} s, {contacts / moved:,.0f} contacts/s"
    )
    print(f"ratio engine / data movement: {seconds / moved:.1f}x")
    shutil.rmtree(folder.parent)


def _option(name: str, default: int) -> int:
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def _run(folder: Path) -> dict[str, Any]:
    """The run, in a process of its own (see ``run_phase``)."""
    child = subprocess.run(
        [sys.executable, __file__, "run-phase", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


if __name__ == "__main__":
    main()
