"""Incremental runs, the cursor, crash safety, locks, the error queue and dry runs.

Modelled on how sync tools are tested: runs back to back, a run killed with SIGKILL and
resumed, a cursor tampered with, ties at the cursor boundary, a poison record fixed and
retried, and a dry run that provably writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_scenarios import ACCOUNT, CUSTOMERS, LONER, PERSON, Scenario, run_p2c

from p2c import ExitCode, ProjectBusy
from p2c.dynamics import SALES
from p2c.engine import RunOptions
from p2c.engine._lock import ProjectLocks
from p2c.sandbox import sample_document

SAME_SECOND = "2026-01-05T10:00:00Z"


def final_leg(result: Any, project: str) -> Any:
    (task,) = [t for t in result.tasks if t.project == project and t.leg != "Source > CDS"]
    return task


def first_leg(result: Any, project: str) -> Any:
    return next(t for t in result.tasks if t.project == project)


def _sql(path: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(statement, params).fetchall()


def _in_project(text: str, project: str, old: str, new: str) -> str:
    """Replace ``old`` in the p2c.yaml block of one project."""
    start = text.index(f"- name: {project}\n")
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old) :]


def _colleagues(count: int) -> list[dict[str, Any]]:
    """Contacts of the account, ids in a known order."""
    return [
        {
            "contactid": f"d0000000-0000-4000-8000-{n:012d}",
            "firstname": f"Colleague {n}",
            "lastname": "Tie",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        }
        for n in range(count)
    ]


def test_ties_at_the_cursor_boundary_are_resumed_by_key(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario({"contacts": _colleagues(7)})
    sales = scenario.root / "sandbox" / "sales.db"
    # Every contact changed in the same second; pages of three split that second.
    _sql(sales, "UPDATE contact SET modifiedon = ?", SAME_SECOND)
    scenario.edit(
        lambda t: _in_project(t, scenario.contacts_project, "batch_size: 5000", "batch_size: 3")
    )
    # The fourth colleague (in key order) is refused, and no failure is allowed: the task
    # stops after the batch that holds it.
    bad = "d0000000-0000-4000-8000-000000000003"
    _sql(sales, "UPDATE contact SET address1_country = 'Atlantis' WHERE contactid = ?", bad)
    scenario.change_project(scenario.contacts_project, "Contacts:\n  max_failed_records: 0\n")

    first = scenario.run([scenario.accounts_project, scenario.contacts_project])
    contacts = final_leg(first, scenario.contacts_project)
    assert contacts.status == "Error" and "threshold" in (contacts.message or "")
    persons = scenario.contact_persons()

    # The threshold stays; the next run resumes after the last whole batch.
    second = scenario.run([scenario.contacts_project])
    resumed = first_leg(second, scenario.contacts_project)
    after = scenario.contact_persons()

    everyone = 1 + 7  # PERSON and the colleagues
    if scenario.via_cds:
        # The hub takes every record on the first leg; F&O refuses one on the second.
        assert first_leg(first, scenario.contacts_project).counts.created == everyone
        assert len(after) == everyone - 1
    else:
        # Read in (modifiedon, contactid) order: PERSON (an hour older), then the seven
        # colleagues. Pages: [PERSON, c0, c1], [c2, c3, c4] (c3 refused, the task stops).
        assert contacts.counts.read == 6 and len(persons) == 5
        # Resumed after c4 by key within the same second: c5 and c6, nothing twice.
        assert resumed.counts.read == 2 and resumed.counts.created == 2
        assert len(after) == everyone - 1
    assert scenario.contact_number(bad) not in after
    state = scenario.state()
    try:
        (queued,) = state.queue()
        assert queued.field == "PrimaryAddressCountryRegionISOCode"
    finally:
        state.close()


def test_the_cursor_passes_what_the_filter_left_out_and_a_later_change_is_still_read(
    scenario: Scenario,
) -> None:
    sales_db, later = scenario.root / "sandbox" / "sales.db", "2026-01-05T10:00:01Z"
    _sql(sales_db, "UPDATE contact SET modifiedon = ?", SAME_SECOND)
    # LONER (no company) changed last: the Contacts task's filter leaves it out.
    _sql(sales_db, "UPDATE contact SET modifiedon = ? WHERE contactid = ?", later, LONER)
    projects = [scenario.accounts_project, scenario.contacts_project]
    first = first_leg(scenario.run(projects), scenario.contacts_project)
    assert first.counts.failed == 0 and first.counts.read >= 1
    # The next read starts after LONER, though no read gave it.
    ((watermark, last_key),) = _sql(
        scenario.root / "state.db",
        "SELECT watermark, last_key FROM task_cursor WHERE project = ? AND leg = ?",
        scenario.contacts_project,
        first.leg,
    )
    assert (watermark, json.loads(last_key)) == (later, [LONER])
    again = scenario.run([scenario.contacts_project])
    assert first_leg(again, scenario.contacts_project).counts.read == 0
    # LONER joins the account: the change moves its timestamp past the cursor.
    sales = scenario.ws.sales()
    try:
        sales.update(
            "contacts", LONER, {"parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})"}
        )
    finally:
        sales.close()
    scenario.run([scenario.contacts_project])
    assert scenario.contact_number(LONER) in scenario.contact_persons()


def test_a_cursor_in_the_future_or_corrupted_reads_everything_and_loses_nothing(
    scenario: Scenario,
) -> None:
    scenario.run()
    state_db = scenario.root / "state.db"
    sales = scenario.ws.sales()
    try:
        sales.update("contacts", PERSON, {"jobtitle": "Head of Purchasing"})
    finally:
        sales.close()
    _sql(state_db, "UPDATE task_cursor SET watermark = '2999-01-01T00:00:00Z'")
    result = scenario.run()
    contacts = first_leg(result, scenario.contacts_project)
    assert "in the future" in (contacts.message or "")
    assert result.exit_code == ExitCode.OK
    assert (
        scenario.contact_persons()[scenario.contact_number(PERSON)]["EmploymentProfession"]
        == "Head of Purchasing"
    )
    # Read everything, wrote only the change.
    final = final_leg(result, scenario.contacts_project)
    assert final.counts.updated == 1 and final.counts.created == 0

    _sql(state_db, "UPDATE task_cursor SET watermark = 'not a time', last_key = '{'")
    again = scenario.run()
    assert "unreadable" in (first_leg(again, scenario.contacts_project).message or "")
    assert again.exit_code == ExitCode.OK
    assert all(t.counts.created == t.counts.updated == 0 for t in again.tasks)
    # The cursor is whole again: a run after that reads at most the contact changed in the
    # last second (timestamps are to the second) and writes nothing.
    time.sleep(1.1)
    last = scenario.run().tasks
    assert all(t.counts.read <= 1 and t.counts.created == t.counts.updated == 0 for t in last)
    assert sum(t.counts.read for t in last) <= (2 if scenario.via_cds else 1)


def test_a_project_another_run_holds_is_refused_and_a_dead_holder_is_recovered(
    scenario: Scenario,
) -> None:
    state = scenario.state()
    try:
        with ProjectLocks(state.engine, [scenario.accounts_project]):
            with pytest.raises(ProjectBusy) as refused:
                scenario.run([scenario.accounts_project])
            assert "is being run by process" in str(refused.value)
            assert "--wait" in (refused.value.fix or "")
            busy = run_p2c("run", scenario.accounts_project, "-w", scenario.root)
            assert busy.returncode == ExitCode.BUSY, busy.stderr
            assert ExitCode.BUSY.value == 6
            assert "--wait" in busy.stderr
        # A lock left by a process that is gone (same host, dead pid) is taken over.
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        _sql(
            scenario.root / "state.db",
            "INSERT INTO project_lock (project, host, pid, acquired_at, heartbeat_at) "
            "VALUES (?, ?, ?, '2026-01-01 00:00:00', '2099-01-01 00:00:00')",
            scenario.accounts_project,
            os.uname().nodename,
            int(dead.stdout),
        )
        assert scenario.run([scenario.accounts_project]).exit_code == ExitCode.OK
        assert not _sql(scenario.root / "state.db", "SELECT * FROM project_lock")
    finally:
        state.close()


def test_a_poison_record_is_fixed_in_fno_and_retried(scenario: Scenario) -> None:
    scenario.change_project(
        scenario.customers_project,
        'ContactToCustomer:\n  map:\n    CustomerGroupId: {default: "99"}\n',
    )
    first = scenario.run()
    customers = final_leg(first, scenario.customers_project)
    assert customers.status == "Error" and customers.counts.failed == len(CUSTOMERS)
    listed = run_p2c("errors", "-w", scenario.root)
    assert listed.returncode == 0 and "needs a fix" in listed.stdout and "'99'" in listed.stdout

    finops = scenario.ws.finops()
    try:
        finops.upsert(
            "CustomerGroups",
            [{"dataAreaId": "usmf", "CustomerGroupId": "99", "Description": "Retail"}],
        )
    finally:
        finops.close()
    state = scenario.state()
    try:
        one = state.queue()[0].source_key
    finally:
        state.close()
    # One record by its key, then the rest by the run they failed in.
    single = run_p2c("retry", "--record", one, "-w", scenario.root)
    assert single.returncode == 0, single.stdout + single.stderr
    state = scenario.state()
    try:
        left = state.queue()
        assert len(left) == len(CUSTOMERS) - 1 and one not in {q.source_key for q in left}
    finally:
        state.close()
    retried = run_p2c("retry", first.run_id, "-w", scenario.root)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert {scenario.contact_number(c) for c in CUSTOMERS} <= set(scenario.customers())
    state = scenario.state()
    try:
        assert state.queue() == []
        last = state.runs()[0]
        assert last.mode == "retry" and last.status == "Completed"
    finally:
        state.close()
    assert run_p2c("retry", "-w", scenario.root).returncode == ExitCode.USAGE  # which ones?
    # An empty queue is no error: nothing to do.
    nothing = run_p2c("retry", "--all", "-w", scenario.root)
    assert nothing.returncode == ExitCode.OK, nothing.stderr
    assert "Nothing to retry: the error queue is empty." in nothing.stdout
    done = run_p2c("retry", first.run_id, "-w", scenario.root)
    assert done.returncode == ExitCode.OK and "Nothing to retry" in done.stdout
    # A run or a record that does not exist is a mistake.
    assert run_p2c("retry", "999", "-w", scenario.root).returncode == ExitCode.USAGE
    unknown = run_p2c("retry", "--record", "no-such-key", "-w", scenario.root)
    assert unknown.returncode == ExitCode.USAGE and "no-such-key" in unknown.stderr


def _fingerprint(path: Path) -> str:
    rows = []
    with sqlite3.connect(path) as db:
        for (table,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ):
            rows.append((table, sorted(map(repr, db.execute(f'SELECT * FROM "{table}"')))))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_a_dry_run_writes_nothing_and_predicts_the_real_run(scenario: Scenario) -> None:
    systems = ["finops.db", "state.db"] + (["cds.db"] if scenario.via_cds else [])
    paths = [scenario.root / ("state.db" if s == "state.db" else f"sandbox/{s}") for s in systems]
    scenario.run([scenario.accounts_project])
    before = [_fingerprint(p) for p in paths]

    dry = run_p2c("run", "--dry-run", "-w", scenario.root)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written" in dry.stdout
    assert "would create usmf/" in dry.stdout
    assert [_fingerprint(p) for p in paths] == before

    predicted = scenario.run(options=RunOptions(dry_run=True))
    real = scenario.run()
    assert [(t.project, t.leg, t.counts) for t in predicted.tasks] == [
        (t.project, t.leg, t.counts) for t in real.tasks
    ]
    assert sum(t.counts.created for t in real.tasks) > 0


def test_deactivated_contacts_follow_the_task_policy(scenario: Scenario) -> None:
    scenario.run()
    sales = scenario.ws.sales()
    try:
        sales.update("contacts", PERSON, {"statecode": 1})
    finally:
        sales.close()
    number = scenario.contact_number(PERSON)
    scenario.run()
    assert scenario.contact_persons()[number]["IsInactive"] == "No"  # ignore: the default

    scenario.change_project(scenario.contacts_project, "Contacts:\n  on_inactive: deactivate\n")
    scenario.run()
    assert scenario.contact_persons()[number]["IsInactive"] == "Yes"


def test_history_older_than_the_retention_is_purged_but_the_error_queue_kept(
    scenario: Scenario,
) -> None:
    scenario.change_project(
        scenario.customers_project,
        'ContactToCustomer:\n  map:\n    CustomerGroupId: {default: "99"}\n',
    )
    first = scenario.run()
    state_db = scenario.root / "state.db"
    _sql(state_db, "UPDATE run SET started_at = '2020-01-01 00:00:00' WHERE id = ?", first.run_id)
    second = scenario.run()
    state = scenario.state()
    try:
        assert [r.id for r in state.runs()] == [second.run_id]
        assert not state.errors(first.run_id)
        assert len(state.queue()) == len(CUSTOMERS)
    finally:
        state.close()


def test_a_run_killed_mid_batch_is_resumed_with_nothing_lost_or_doubled(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario(load=False)
    sales = scenario.ws.sales()
    try:
        sales.load(sample_document(6000, seed=7))
    finally:
        sales.close()
    scenario.backdate_sales()
    scenario.edit(lambda t: t.replace("batch_size: 5000", "batch_size: 200"))
    finops_db = scenario.root / "sandbox" / "finops.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "p2c", "run", "-w", str(scenario.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill it while it writes contact persons (the second project), mid-way.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        written = _sql(finops_db, "SELECT count(*) FROM CDSContactPerson")[0][0]
        if written >= 400:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    killed_at = _sql(finops_db, "SELECT count(*) FROM CDSContactPerson")[0][0]
    state = scenario.state()
    try:
        # Its process is gone: reading the history marks it, with the reason, and its tasks
        # show what they committed (the one killed mid-way too).
        (killed,) = state.runs()
        assert killed.status == "Error" and "stopped before it finished" in killed.message
        assert killed.finished_at is not None
        (contacts,) = [
            t
            for t in state.task_runs(killed.id)
            if t.task == "Contacts" and t.leg != "Source > CDS"
        ]
        assert contacts.status == "Error" and contacts.message == killed.message  # mid-run
        assert 0 < contacts.created <= contacts.read
    finally:
        state.close()

    resumed = scenario.run()
    assert resumed.exit_code == ExitCode.OK, resumed.tasks
    # Every Sales contact of each route is in F&O exactly once.
    routed = _sql(
        scenario.root / "sandbox" / "sales.db",
        "SELECT msdynce_contactnumber, msdynce_isactivecustomer, msdynce_iscompanyanaccount "
        "FROM contact",
    )
    persons, customers = scenario.contact_persons(), scenario.customers()
    assert killed_at < len(persons)
    assert {n for n, active, company in routed if not active and company} == set(persons)
    assert {n for n, active, _ in routed if active} <= set(customers)
    # And what is there is what the mapping makes: a full pass finds nothing to change.
    check = scenario.run(options=RunOptions(full=True))
    assert all(t.counts.created == t.counts.updated == t.counts.failed == 0 for t in check.tasks)


def test_change_tracking_where_sales_offers_it_reads_exactly_what_changed(
    scenario: Scenario,
) -> None:
    sales = scenario.ws.sales()
    try:
        for entity in ("contact", "account"):
            sales.changes.enable(SALES.entity(entity))
    finally:
        sales.close()
    first = scenario.run()
    state = scenario.state()
    try:
        deltas = {c.leg: c.delta for c in state.cursors() if c.leg != "CDS > Destination"}
    finally:
        state.close()
    assert deltas and all(d is not None and d.isdigit() for d in deltas.values()), deltas

    # Changed in the same second as everything else: no timestamp could tell, the change
    # log can.
    sales = scenario.ws.sales()
    try:
        sales.update("contacts", PERSON, {"jobtitle": "Head of Purchasing"})
    finally:
        sales.close()
    second = scenario.run()
    contacts = first_leg(second, scenario.contacts_project)
    assert (contacts.counts.read, contacts.counts.updated) == (1, 1)
    assert first_leg(second, scenario.customers_project).counts.read == 0
    assert first_leg(second, scenario.accounts_project).counts.read == 0
    person = scenario.contact_persons()[scenario.contact_number(PERSON)]
    assert person["EmploymentProfession"] == "Head of Purchasing"
    assert first.exit_code == second.exit_code == ExitCode.OK
