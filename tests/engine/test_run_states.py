"""Run states that stay true: a run is Completed, Warning, Error or Cancelled, never left
Running after its process; counts are committed with each batch; the error queue holds only
records that still fail; a dry run says what it would change, naming records readably.

Cancellation is a library API (``CancelToken``), so these drive ``Engine.run`` directly;
the command line's signals are tested in tests/cli/test_interrupts.py.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_scenarios import (
    ACCOUNT,
    CUSTOMERS,
    PERSON,
    Scenario,
    as_version_2,
    as_version_4,
    check_migrated,
)

from p2c.connectors import SandboxDestination
from p2c.engine import CancelToken, Engine, RunAbandoned, RunOptions, RunStatus, StateStore
from p2c.engine._lock import ProjectLocks
from p2c.engine._switch import INTERVAL

BATCH = 5
COLLEAGUES = 23  # with PERSON: 24 contact persons, five batches of five (the last of four)
ATLANTIS = "e1000000-0000-4000-8000-000000000001"


def _sql(path: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(statement, params).fetchall()


def _colleagues(count: int) -> list[dict[str, Any]]:
    return [
        {
            "contactid": f"d1000000-0000-4000-8000-{n:012d}",
            "firstname": f"Colleague {n}",
            "lastname": "Batch",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        }
        for n in range(count)
    ]


@pytest.fixture
def batched(make_scenario: Callable[..., Scenario]) -> Scenario:
    """BASE plus colleagues of the account, written five records a batch."""
    scenario = make_scenario({"contacts": _colleagues(COLLEAGUES)})
    scenario.edit(lambda text: text.replace("batch_size: 5000", f"batch_size: {BATCH}"))
    return scenario


def _engine_run(
    scenario: Scenario,
    progress: Callable[[str, int], None] | None = None,
    **arguments: Any,
) -> Any:
    ws = scenario.ws
    state = StateStore(ws.state_url())
    try:
        return Engine(ws, state, progress).run(**arguments)
    finally:
        state.close()


def _final_contacts_leg(rows: list[Any]) -> Any:
    (row,) = [r for r in rows if r.task == "Contacts" and r.leg != "Source > CDS"]
    return row


@pytest.fixture
def failing_upserts(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[int, BaseException], None]]:
    """``fail(n, error)``: the n-th upsert of contact persons raises ``error``, mid-batch."""

    def fail(n: int, error: BaseException) -> None:
        calls = 0

        def counted(real: Callable[..., Any]) -> Callable[..., Any]:
            def write(self: SandboxDestination, entity: str, *args: Any, **kwargs: Any) -> Any:
                nonlocal calls
                if entity == "CDSContactPersons":
                    calls += 1
                    if calls == n:
                        raise error
                return real(self, entity, *args, **kwargs)

            return write

        # The engine writes a page as records or as rows: either way it is counted.
        for method in ("upsert", "upsert_rows"):
            monkeypatch.setattr(
                SandboxDestination, method, counted(getattr(SandboxDestination, method))
            )

    yield fail


# cancelling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", ["direct"])
def test_a_cancelled_run_stops_between_batches_and_the_next_one_resumes(
    batched: Scenario,
) -> None:
    token = CancelToken()
    batches = 0

    def progress(label: str, n: int) -> None:
        nonlocal batches
        if label.startswith(batched.contacts_project):
            batches += 1
            if batches == 2:  # the service's REST API, say, asks the run to stop
                token.cancel("cancelled by the test")

    result = _engine_run(batched, progress, cancel=token, started_by="schedule")

    assert result.status == RunStatus.CANCELLED and RunStatus.CANCELLED.value == "Cancelled"
    assert result.cancelled == "cancelled by the test"
    assert [t.status for t in result.tasks] == ["Completed", "Cancelled"]  # customers: never
    contacts = result.tasks[-1]
    assert (contacts.counts.read, contacts.counts.created) == (2 * BATCH, 2 * BATCH)
    assert result.written == 1 + 2 * BATCH  # the account and two batches
    assert len(batched.contact_persons()) == 2 * BATCH
    state = batched.state()
    try:
        (run,) = state.runs()
        assert (run.status, run.message, run.started_by) == (
            "Cancelled",
            "cancelled by the test",
            "schedule",
        )
        assert run.finished_at >= run.started_at
        stored = _final_contacts_leg(state.task_runs(run.id))
        assert (stored.status, stored.read, stored.created) == ("Cancelled", 10, 10)
        assert "cancelled by the test" in stored.message
        assert state.last_status(batched.contacts_project) == "Cancelled"
    finally:
        state.close()
    assert not _sql(batched.root / "state.db", "SELECT * FROM project_lock")

    resumed = _engine_run(batched)
    assert resumed.status == "Completed"
    contacts = _final_contacts_leg(resumed.tasks)
    assert (contacts.counts.read, contacts.counts.created) == (1 + COLLEAGUES - 2 * BATCH,) * 2
    assert len(batched.contact_persons()) == 1 + COLLEAGUES


@pytest.mark.parametrize("generation", ["direct"])
def test_a_run_cancelled_before_it_starts_records_nothing(scenario: Scenario) -> None:
    token = CancelToken()
    token.cancel("not now")
    result = _engine_run(scenario, cancel=token)
    assert (result.run_id, result.cancelled, result.tasks) == (0, "not now", [])
    state = scenario.state()
    try:
        assert state.runs() == []
    finally:
        state.close()


@pytest.mark.parametrize("generation", ["direct"])
def test_a_run_waiting_for_a_lock_can_be_cancelled(scenario: Scenario) -> None:
    token = CancelToken()
    state = scenario.state()
    try:
        with ProjectLocks(state.engine, [scenario.accounts_project]):
            # Another run holds Accounts; this one would wait a minute, but is cancelled
            # from another thread meanwhile.
            threading.Timer(0.2, token.cancel, args=("stop waiting",)).start()
            engine = Engine(scenario.ws, state, wait=60)
            result = engine.run([scenario.accounts_project], cancel=token)
        assert (result.run_id, result.cancelled) == (0, "stop waiting")
        assert state.runs() == []
    finally:
        state.close()


def test_a_run_abandoned_mid_batch_is_still_recorded(
    batched: Scenario, failing_upserts: Callable[[int, BaseException], None]
) -> None:
    failing_upserts(3, RunAbandoned("interrupted (SIGINT)"))  # a second Ctrl-C, mid-batch

    result = _engine_run(batched)

    assert result.status == "Cancelled"
    assert result.cancelled is not None and "stopped at once" in result.cancelled
    contacts = _final_contacts_leg(result.tasks)
    assert contacts.status == "Cancelled"
    # What the history holds: the two batches committed before the abandoned one.
    assert (contacts.counts.read, contacts.counts.created) == (2 * BATCH, 2 * BATCH)
    state = batched.state()
    try:
        (run,) = state.runs()
        assert run.status == "Cancelled" and "stopped at once" in run.message
        assert all(t.status != "Running" for t in state.task_runs(run.id))
    finally:
        state.close()

    resumed = _engine_run(batched)
    assert resumed.status == "Completed"
    assert len(batched.contact_persons()) == 1 + COLLEAGUES


def test_an_internal_error_marks_the_run_error_with_the_reason(
    batched: Scenario, failing_upserts: Callable[[int, BaseException], None]
) -> None:
    failing_upserts(2, RuntimeError("disk on fire"))

    with pytest.raises(RuntimeError, match="disk on fire"):
        _engine_run(batched, started_by="retry")

    state = batched.state()
    try:
        (run,) = state.runs()
        assert run.status == "Error"
        assert run.message == "internal error: RuntimeError: disk on fire"
        assert run.finished_at is not None and run.started_by == "retry"
        contacts = _final_contacts_leg(state.task_runs(run.id))
        assert (contacts.status, contacts.message) == ("Error", run.message)
        assert contacts.read == contacts.created == BATCH  # the batch before the crash
    finally:
        state.close()
    assert not _sql(batched.root / "state.db", "SELECT * FROM project_lock")


def test_a_cancelled_retry_says_how_many_it_left(scenario: Scenario) -> None:
    scenario.change_project(
        scenario.customers_project,
        'ContactToCustomer:\n  map:\n    CustomerGroupId: {default: "99"}\n',
    )
    assert _engine_run(scenario).status == "Error"  # every customer refused: group 99
    finops = scenario.ws.finops()
    try:
        finops.upsert(
            "CustomerGroups",
            [{"dataAreaId": "usmf", "CustomerGroupId": "99", "Description": "Retail"}],
        )
    finally:
        finops.close()
    scenario.edit(lambda text: text.replace("batch_size: 5000", "batch_size: 1"))
    token = CancelToken()
    ws = scenario.ws
    state = StateStore(ws.state_url())
    try:
        result = Engine(ws, state, lambda label, n: token.cancel("enough")).retry(cancel=token)
        assert result is not None
        assert (result.status, result.written, result.left) == ("Cancelled", 1, len(CUSTOMERS) - 1)
        assert state.runs()[0].started_by == "retry"
        assert len(state.queue()) == len(CUSTOMERS) - 1
    finally:
        state.close()


# runs whose process is gone -------------------------------------------------------------------


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def _running_run(state_db: Path, host: str, pid: int, heartbeat: datetime) -> int:
    """A run and a task run left Running by a process, with the counts it committed."""
    stamp = heartbeat.strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(state_db) as db:
        run_id = db.execute(
            "INSERT INTO run (started_at, status, projects, mode, started_by, host, pid, "
            "heartbeat_at) VALUES (?, 'Running', 'P', 'incremental', 'command', ?, ?, ?)",
            (stamp, host, pid, stamp),
        ).lastrowid
        db.execute(
            "INSERT INTO task_run (run_id, project, task, leg, status, read, created, updated, "
            "unchanged, skipped, failed, started_at) "
            "VALUES (?, 'P', 'T', 'L', 'Running', 700, 690, 0, 0, 0, 10, ?)",
            (run_id, stamp),
        )
    assert run_id is not None
    return run_id


@pytest.mark.parametrize("generation", ["direct"])
def test_runs_whose_process_is_gone_are_marked_when_history_is_read(scenario: Scenario) -> None:
    state_db = scenario.root / "state.db"
    scenario.state().close()  # the tables
    now = datetime.now(UTC)
    here = socket.gethostname()
    killed = _running_run(state_db, here, _dead_pid(), now)
    silent = _running_run(state_db, "elsewhere", 4242, now - timedelta(minutes=11))
    busy = _running_run(state_db, "elsewhere", 4242, now - timedelta(minutes=1))
    ours = _running_run(state_db, here, os.getpid(), now - timedelta(minutes=1))

    state = scenario.state()
    try:
        runs = {r.id: r for r in state.runs()}
        tasks = {run_id: state.task_runs(run_id)[0] for run_id in runs}
    finally:
        state.close()

    assert runs[killed].status == "Error"
    assert "stopped before it finished (killed or crashed)" in runs[killed].message
    assert f"pid {_sql(state_db, 'SELECT pid FROM run WHERE id = ?', killed)[0][0]}" in (
        runs[killed].message
    )
    assert runs[silent].status == "Error" and "has not been heard from" in runs[silent].message
    for gone in (killed, silent):
        assert runs[gone].finished_at == runs[gone].heartbeat_at  # its last sign of life
        assert (tasks[gone].status, tasks[gone].message) == ("Error", runs[gone].message)
        assert (tasks[gone].read, tasks[gone].created, tasks[gone].failed) == (700, 690, 10)
    # A process heard from lately, or this one, is still at work.
    assert runs[busy].status == runs[ours].status == "Running"


@pytest.mark.parametrize("generation", ["direct"])
def test_a_run_whose_lock_is_taken_over_is_marked(scenario: Scenario) -> None:
    state_db = scenario.root / "state.db"
    scenario.state().close()
    pid = _dead_pid()
    gone = _running_run(state_db, socket.gethostname(), pid, datetime.now(UTC))
    _sql(
        state_db,
        "INSERT INTO project_lock (project, host, pid, acquired_at, heartbeat_at) "
        "VALUES (?, ?, ?, '2026-01-01 00:00:00', '2099-01-01 00:00:00')",
        scenario.accounts_project,
        socket.gethostname(),
        pid,
    )

    assert _engine_run(scenario, projects=[scenario.accounts_project]).status == "Completed"

    # Marked by the run that took its lock over, before anyone read the history.
    ((status, message),) = _sql(state_db, "SELECT status, message FROM run WHERE id = ?", gone)
    assert status == "Error" and "killed or crashed" in message


# the error queue and the dry run ------------------------------------------------------------


def test_records_found_unchanged_leave_the_error_queue(scenario: Scenario) -> None:
    """A mapping made bad and then fixed: the records it failed are found unchanged by
    digest (the destination holds what the fixed mapping makes) and leave the queue."""
    assert _engine_run(scenario).status == "Completed"
    good = scenario.config_path.read_text(encoding="utf-8")
    scenario.change_project(
        scenario.customers_project,
        'ContactToCustomer:\n  map:\n    CustomerGroupId: {default: "99"}\n',
    )
    broken = _engine_run(scenario)
    assert _final_leg(broken, scenario.customers_project).counts.failed == len(CUSTOMERS)
    state = scenario.state()
    try:
        assert len(state.queue()) == len(CUSTOMERS)
    finally:
        state.close()

    scenario.config_path.write_text(good, encoding="utf-8")  # the mapping fixed
    fixed = _engine_run(scenario)

    customers = _final_leg(fixed, scenario.customers_project)
    assert customers.counts.unchanged == len(CUSTOMERS)
    assert customers.counts.failed == customers.counts.created == customers.counts.updated == 0
    state = scenario.state()
    try:
        assert state.queue() == []
    finally:
        state.close()


def _final_leg(result: Any, project: str) -> Any:
    (task,) = [t for t in result.tasks if t.project == project and t.leg != "Source > CDS"]
    return task


def test_a_sandbox_dry_run_shows_field_changes_and_names_records(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario(
        {
            "contacts": [
                {
                    "contactid": ATLANTIS,
                    "firstname": "Atla",
                    "lastname": "Ntis",
                    "address1_country": "Atlantis",
                    "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
                }
            ]
        }
    )
    _engine_run(scenario)
    sales = scenario.ws.sales()
    try:
        sales.update("contacts", PERSON, {"emailaddress1": "per@changed.example"})
        sales.update("contacts", ATLANTIS, {"jobtitle": "Still in Atlantis"})  # read again
    finally:
        sales.close()

    preview = _engine_run(scenario, options=RunOptions(dry_run=True))

    examples = _final_leg(preview, scenario.contacts_project).examples
    person = f"usmf/{scenario.contact_number(PERSON)}/{scenario.account_number()}"
    assert f"update {person} (Per Persson): PrimaryEmailAddress: None → 'per@changed.example'" in (
        examples
    ), examples
    atlantis = f"usmf/{scenario.contact_number(ATLANTIS)}/{scenario.account_number()}"
    (rejected,) = [e for e in examples if e.startswith("reject")]
    assert rejected.startswith(
        f"reject {atlantis} (Atla Ntis): PrimaryAddressCountryRegionISOCode: "
    )
    assert ATLANTIS not in " ".join(examples)  # never a bare GUID


# the state database of the previous schema ------------------------------------------------------


@pytest.mark.parametrize("generation", ["direct"])
def test_a_state_database_of_schema_2_is_brought_up_to_date(scenario: Scenario) -> None:
    scenario.state().close()
    with sqlite3.connect(scenario.root / "state.db") as db:
        as_version_2(db.execute)

    state = scenario.state()
    try:
        check_migrated(state)
    finally:
        state.close()
    result = _engine_run(scenario)
    assert result.status == "Completed"
    state = scenario.state()
    try:
        assert [(r.status, r.started_by) for r in state.runs()] == [
            ("Completed", "command"),
            ("Error", None),
        ]
    finally:
        state.close()


@pytest.mark.parametrize("generation", ["direct"])
def test_lineage_of_schema_4_is_moved_and_the_next_run_writes_nothing_again(
    scenario: Scenario,
) -> None:
    first = _engine_run(scenario)
    assert first.status == "Completed"
    state = scenario.state()
    before = [tuple(row) for row in state.lineage()]
    state.close()
    assert before
    with sqlite3.connect(scenario.root / "state.db") as db:
        as_version_4(db.execute)
        db.execute("DELETE FROM task_cursor")  # the next run reads every record again
    # Changed in F&O alone: a record p2c would write (had it lost its digests) gets it back.
    with sqlite3.connect(scenario.root / "sandbox" / "finops.db") as db:
        db.execute("UPDATE CustomerV2 SET PrimaryContactPhone = 'changed in F&O'")

    again = _engine_run(scenario)
    assert again.status == "Completed"
    state = scenario.state()
    try:
        assert [tuple(row) for row in state.lineage()] == before
    finally:
        state.close()
    assert all(t.counts.created == t.counts.updated == 0 for t in again.tasks), again.tasks
    assert {c["PrimaryContactPhone"] for c in scenario.customers().values()} == {"changed in F&O"}


class _CommitsThatFail(StateStore):
    """A state whose n-th commit of a batch of the final Contacts leg fails (its database
    went away)."""

    def __init__(self, url: str, failing: int) -> None:
        super().__init__(url)
        self.failing, self.commits = failing, 0

    def commit_batch(self, *args: Any, **kwargs: Any) -> None:
        leg = args[2]
        if leg.task == "Contacts" and leg.leg != "Source > CDS":
            self.commits += 1
            if self.commits == self.failing:
                raise RuntimeError("state commit lost")
        super().commit_batch(*args, **kwargs)


def test_a_commit_that_fails_behind_the_writes_ends_the_run_and_loses_nothing(
    batched: Scenario,
) -> None:
    """The state commits a batch while the next one is written (commit-behind): a commit
    that fails stops the leg at the next batch, the run is Error, and the next run writes
    what the failed one had not recorded."""
    state = _CommitsThatFail(batched.ws.state_url(), failing=2)
    try:
        with pytest.raises(RuntimeError, match="state commit lost"):
            Engine(batched.ws, state).run()
        assert state.commits == 2  # no commit after the failed one
        (run,) = state.runs()
        assert run.status == "Error" and "state commit lost" in run.message
        contacts = _final_contacts_leg(state.task_runs(run.id))
        assert contacts.status == "Error" and contacts.created == BATCH  # the batch recorded
    finally:
        state.close()

    resumed = _engine_run(batched)
    assert resumed.status == "Completed"
    assert len(batched.contact_persons()) == 1 + COLLEAGUES
    lineage = _sql(
        batched.root / "state.db",
        "SELECT count(*) FROM record_lineage JOIN lineage_leg ON lineage_leg.id = leg_id "
        "WHERE task = 'Contacts' AND leg <> 'Source > CDS'",
    )
    assert lineage[0][0] == 1 + COLLEAGUES


def test_threads_switch_quickly_only_while_a_leg_reads_more_than_a_page(
    batched: Scenario,
) -> None:
    """The switch interval is short from a read's second page on (``_switch.py``), never for
    a read of one page, and the process's own is back after the run."""
    before = sys.getswitchinterval()
    seen: list[tuple[str, float]] = []
    _engine_run(batched, lambda label, _: seen.append((label, sys.getswitchinterval())))
    contacts = [
        interval
        for label, interval in seen
        if "/ Contacts / " in label and not label.endswith("Source > CDS")
    ]
    assert len(contacts) == 5, seen  # five batches of five
    assert contacts[0] == pytest.approx(before)
    assert contacts[1:] == pytest.approx([INTERVAL] * 4, abs=2e-6)
    assert sys.getswitchinterval() == before
