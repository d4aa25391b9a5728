"""The scenario data and helpers shared by the engine tests (fixtures are in conftest.py).

One small Sales data set with a record for each routing case, and a ``Scenario`` that runs
a workspace as a user would: ``Engine(...).run`` with the state database that ``p2c.yaml``
names, changes made by editing the ``p2c.yaml`` text.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from p2c.engine import Engine, RunOptions, RunResult, StateStore
from p2c.workspace import CONFIG_FILE, Workspace

ACCOUNT = "a0000000-0000-4000-8000-000000000001"
QUOTED = "c0000000-0000-4000-8000-000000000001"  # contact of the account, with a quote
ORDERED = "c0000000-0000-4000-8000-000000000002"  # no company, with a sales order
INVOICED = "c0000000-0000-4000-8000-000000000003"  # company is a contact, with an invoice
PERSON = "c0000000-0000-4000-8000-000000000004"  # contact of the account, no activity
CHILD = "c0000000-0000-4000-8000-000000000005"  # company is a contact, no activity
LONER = "c0000000-0000-4000-8000-000000000006"  # no company, no activity

CUSTOMERS = (QUOTED, ORDERED, INVOICED)
NOWHERE = (CHILD, LONER)

PROJECTS = {
    "direct": {
        "accounts": "Accounts (Sales to Fin and Ops) - Direct",
        "contacts": "Contacts (Sales to Fin and Ops) - Direct",
        "customers": "Contacts to Customer (Sales to Fin and Ops) - Direct",
    },
    "via-cds": {
        "accounts": "Accounts (Sales to Fin and Ops)",
        "contacts": "Contacts (Sales to Fin and Ops)",
        "customers": "Contacts to Customer (Sales to Fin and Ops)",
    },
}


def _account(record_id: str) -> str:
    return f"/accounts({record_id})"


def _contact(record_id: str) -> str:
    return f"/contacts({record_id})"


BASE: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {
            "accountid": ACCOUNT,
            "name": "Fabrikam",
            "emailaddress1": "info@fabrikam.example",
            "address1_city": "Stockholm",
            "address1_country": "Sweden",
        }
    ],
    "contacts": [
        {
            "contactid": QUOTED,
            "firstname": "Ann",
            "middlename": "Marie",
            "lastname": "Lee",
            "emailaddress1": "ann@example.com",
            "address1_line1": "1 Pine Road",
            "address1_city": "Seattle",
            "address1_country": "United States",
            "parentcustomerid_account@odata.bind": _account(ACCOUNT),
        },
        {
            "contactid": ORDERED,
            "firstname": "Olga",
            "middlename": "Ilse",
            "lastname": "Olsen",
            "address1_country": "",  # blank: the value map's blank key gives USA
        },
        {
            "contactid": INVOICED,
            "firstname": "Ines",
            "lastname": "Iversen",
            "address1_country": "Norway",
            "parentcustomerid_contact@odata.bind": _contact(QUOTED),
        },
        {
            "contactid": PERSON,
            "firstname": "Per",
            "lastname": "Persson",
            "jobtitle": "Buyer",
            "address1_country": "",  # blank again, on the contact-person route
            "gendercode": 2,
            "familystatuscode": 2,
            "accountrolecode": 1,
            "donotemail": True,
            "parentcustomerid_account@odata.bind": _account(ACCOUNT),
        },
        {
            "contactid": CHILD,
            "firstname": "Carl",
            "lastname": "Child",
            "parentcustomerid_contact@odata.bind": _contact(QUOTED),
        },
        {"contactid": LONER, "firstname": "Lone", "lastname": "Wolf"},
    ],
    "quotes": [{"name": "Quote", "customerid_contact@odata.bind": _contact(QUOTED)}],
    "salesorders": [{"name": "Order", "customerid_contact@odata.bind": _contact(ORDERED)}],
    "invoices": [{"name": "Invoice", "customerid_contact@odata.bind": _contact(INVOICED)}],
}


class Scenario:
    """A workspace of one generation, with helpers to run it and to look into every system."""

    def __init__(self, root: Path, generation: str) -> None:
        self.root = root
        self.generation = generation
        self.via_cds = generation == "via-cds"
        self.accounts_project = PROJECTS[generation]["accounts"]
        self.contacts_project = PROJECTS[generation]["contacts"]
        self.customers_project = PROJECTS[generation]["customers"]

    # the workspace ---------------------------------------------------------------------------

    @property
    def ws(self) -> Workspace:
        """The workspace as p2c.yaml says now (opened again after every edit)."""
        return Workspace.open(self.root)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def edit(self, change: Callable[[str], str]) -> None:
        """Change the p2c.yaml text; the change must change something."""
        before = self.config_path.read_text(encoding="utf-8")
        after = change(before)
        assert after != before, "the edit changed nothing in p2c.yaml"
        self.config_path.write_text(after, encoding="utf-8")

    def change_project(self, project: str, tasks_yaml: str) -> None:
        """Replace ``tasks: {}`` of ``project`` with ``tasks_yaml`` (indented under it)."""
        block = "\n".join("    " + line for line in tasks_yaml.strip("\n").splitlines())

        def change(text: str) -> str:
            head = f"- name: {project}\n"
            start = text.index(head)
            at = text.index("  tasks: {}\n", start)
            assert "- name:" not in text[start + len(head) : at], "tasks: of another project"
            return text[:at] + "  tasks:\n" + block + "\n" + text[at + len("  tasks: {}\n") :]

        self.edit(change)

    # running -----------------------------------------------------------------------------------

    def run(
        self, projects: Sequence[str] | None = None, options: RunOptions | None = None
    ) -> RunResult:
        ws = self.ws
        state = StateStore(ws.state_url())
        try:
            return Engine(ws, state).run(list(projects) if projects else None, options)
        finally:
            state.close()

    def retry(self, **selection: Any) -> RunResult | None:
        """``Engine.retry``: None when nothing waits in the error queue."""
        ws = self.ws
        state = StateStore(ws.state_url())
        try:
            return Engine(ws, state).retry(**selection)
        finally:
            state.close()

    def state(self) -> StateStore:
        return StateStore(self.ws.state_url())

    # the systems -------------------------------------------------------------------------------

    def load(self, document: dict[str, list[dict[str, Any]]]) -> None:
        sales = self.ws.sales()
        try:
            sales.load(document)
        finally:
            sales.close()

    def backdate_sales(self, hours: int = 1) -> None:
        """Make every Sales record look created and last changed ``hours`` ago, as data
        that existed before the integration does (timestamps have one-second precision, so
        records changed in the second a run starts are read again by the next run)."""
        moment = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with sqlite3.connect(self.root / "sandbox" / "sales.db") as db:
            for table in ("account", "contact", "quote", "salesorder", "invoice"):
                db.execute(f"UPDATE {table} SET createdon = ?, modifiedon = ?", (moment, moment))

    def sales(self, entity_set: str, key: str) -> dict[str, dict[str, Any]]:
        system = self.ws.sales()
        try:
            return {r[key]: r for r in system.export(entity_set)}
        finally:
            system.close()

    def contact_number(self, contact_id: str) -> str:
        number = self.sales("contacts", "contactid")[contact_id]["msdynce_contactnumber"]
        assert isinstance(number, str)
        assert number.startswith("CON-")
        return number

    def account_number(self, account_id: str = ACCOUNT) -> str:
        number = self.sales("accounts", "accountid")[account_id]["accountnumber"]
        assert isinstance(number, str)
        assert number.startswith("ACC-")
        return number

    def finops(self, entity_set: str) -> list[dict[str, Any]]:
        system = self.ws.finops()
        try:
            return list(system.export(entity_set))
        finally:
            system.close()

    def customers(self) -> dict[str, dict[str, Any]]:
        """F&O CustomersV2 by CustomerAccount (each must be unique across legal entities)."""
        rows = self.finops("CustomersV2")
        by_account = {r["CustomerAccount"]: r for r in rows}
        assert len(by_account) == len(rows), "one customer account in two legal entities"
        return by_account

    def contact_persons(self) -> dict[str, dict[str, Any]]:
        """F&O CDSContactPersons by ContactPersonPartyNumber."""
        rows = self.finops("CDSContactPersons")
        by_party = {r["ContactPersonPartyNumber"]: r for r in rows}
        assert len(by_party) == len(rows)
        return by_party

    def cds(self, entity_set: str) -> list[dict[str, Any]]:
        system = self.ws.cds()
        try:
            return list(system.export(entity_set))
        finally:
            system.close()


def run_p2c(*args: object) -> subprocess.CompletedProcess[str]:
    """``python -m p2c ARGS`` in a separate process, as a user runs it."""
    environment = {k: v for k, v in os.environ.items() if k not in ("P2C_WORKSPACE", "P2C_DEBUG")}
    environment["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=environment,
        timeout=120,
        check=False,
    )


# the state database of the previous schema --------------------------------------------------

# The columns version 3 added to the run table.
NEW_RUN_COLUMNS = ("started_by", "message", "host", "pid", "heartbeat_at")


def as_version_4(execute: Callable[[str], object]) -> None:
    """Make a state database look like one of schema version 4, whose lineage was one
    table with each leg's names in every row: its lineage rows moved back there."""
    execute(
        "CREATE TABLE lineage (project VARCHAR(200) NOT NULL, task VARCHAR(200) NOT NULL, "
        "leg VARCHAR(100) NOT NULL, source_key VARCHAR(400) NOT NULL, "
        "source_entity VARCHAR(100) NOT NULL, destination_entity VARCHAR(100) NOT NULL, "
        "destination_key VARCHAR(400) NOT NULL, run_id INTEGER NOT NULL, digest VARCHAR(40), "
        "PRIMARY KEY (project, task, leg, source_key))"
    )
    execute(
        "INSERT INTO lineage SELECT g.project, g.task, g.leg, r.source_key, r.source_entity, "
        "r.destination_entity, r.destination_key, r.run_id, r.digest "
        "FROM record_lineage AS r JOIN lineage_leg AS g ON g.id = r.leg_id"
    )
    execute("DROP TABLE record_lineage")
    execute("DROP TABLE lineage_leg")
    execute("UPDATE p2c_schema SET value = '4' WHERE name = 'version'")


# A lineage row of a version 4 database.
OLD_LINEAGE = ("P", "Contacts", "main", "c-1", "contacts", "ContactPersonsV2", "usmf/CP-1", 1, "d")


def as_version_2(execute: Callable[[str], object]) -> None:
    """Make a new state database look like one of p2c's schema version 2: no run columns of
    version 3, lineage as before version 5 (with one row), and a run left Running an hour
    ago by a p2c that did not say who ran it."""
    as_version_4(execute)
    for column in NEW_RUN_COLUMNS:
        execute(f"ALTER TABLE run DROP COLUMN {column}")
    execute("ALTER TABLE record_error DROP COLUMN record_name")  # added by version 4
    execute("UPDATE p2c_schema SET value = '2' WHERE name = 'version'")
    values = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in OLD_LINEAGE)
    execute(f"INSERT INTO lineage VALUES ({values})")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    execute(
        "INSERT INTO run (started_at, status, projects, mode) "
        f"VALUES ('{an_hour_ago}', 'Running', 'P', 'incremental')"
    )


def check_migrated(state: StateStore) -> None:
    """Version 5 now, the columns there, the lineage row kept, and the old run no longer
    Running."""
    with state.engine.connect() as db:
        version = db.execute(sa.text("SELECT value FROM p2c_schema")).scalar()
        columns = {c["name"] for c in sa.inspect(db).get_columns("run")}
        error_columns = {c["name"] for c in sa.inspect(db).get_columns("record_error")}
        tables = set(sa.inspect(db).get_table_names())
    assert version == "5"
    assert set(NEW_RUN_COLUMNS) <= columns
    assert "record_name" in error_columns
    assert "lineage" not in tables
    assert [tuple(row) for row in state.lineage()] == [OLD_LINEAGE]
    (old,) = state.runs()
    assert old.status == "Error" and "has not been heard from" in old.message
    assert old.started_by is None  # not known then
