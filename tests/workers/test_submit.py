"""Sending runs to the workers (`p2c serve` and `p2c run` with the Celery executor): due runs
go to the workers, a broker that is down is tried again and recorded, never a crash, and
the sender's own requests spend the identities' shared budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from connector_world import emulator_connections, use_connection_set
from workers_world import RedisServer, World, executor_yaml, free_port, wait_for

from p2c.emulator import DEFAULT_SECRET, SECRET_ENV, serve
from p2c.engine import CancelToken
from p2c.service import ManualClock, Service
from p2c.service._runner import RunRequest
from p2c.workers import RemoteRuns
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

FLEET = {"workers": 1}

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"


def test_the_service_sends_runs_to_the_workers_and_follows_them(shared_world: World) -> None:
    world = shared_world
    world.load(contacts=40, batch_size=50)
    [worker] = world.workers
    service = Service(world.root, clock=ManualClock(datetime.now(UTC)))
    try:
        job = service.submit(RunRequest((ACCOUNTS,), "api:test"))
        assert job.done.wait(60)
    finally:
        service.close()

    assert job.report is not None
    assert job.report.status == "Completed", job.report
    assert job.report.counts["created"] == 4
    runs = world.query("SELECT id, pid, started_by FROM run")
    assert [(r.id, r.pid, r.started_by) for r in runs] == [(job.run_id, worker.pid, "api:test")]


def test_the_service_records_a_broker_that_is_down_and_goes_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.load(contacts=10, batch_size=50)
    world._edit(
        lambda text: (
            text + f'executor: {{type: celery, broker: "redis://127.0.0.1:{free_port()}/0"}}\n'
        )
    )
    service = Service(world.root, clock=ManualClock(datetime.now(UTC)))
    try:
        job = service.submit(RunRequest((ACCOUNTS,), "api:test"), wait=0)
        # Tried again after 2 s (then 4, 8): a second attempt is enough to see.
        wait_for(lambda: caplog.text.count("Trying again") >= 2, "a second attempt")
        job.cancel.cancel("test: no need to wait for every attempt")
        assert job.done.wait(60)
        assert service.wait_idle(5)
    finally:
        service.close()

    assert job.report is not None
    assert job.report.failed_start
    assert "Cannot reach the Celery broker (Redis)" in (job.report.reason or "")
    runs = world.query("SELECT status, message FROM run")
    assert [r.status for r in runs] == ["Error"]
    assert "Cannot reach the Celery broker" in runs[0].message


def _poison_customers(world: World) -> None:
    """Customers whose group F&O does not have: each fails, queued for a retry."""
    head = f"- name: {CUSTOMERS}\n"

    def change(text: str) -> str:
        at = text.index("  tasks: {}\n", text.index(head))
        block = (
            "  tasks:\n    ContactToCustomer:\n      map:\n"
            '        CustomerGroupId: {default: "99"}\n'
        )
        return text[:at] + block + text[at + len("  tasks: {}\n") :]

    world._edit(change)


def test_retry_runs_on_the_workers_as_a_run_does(shared_world: World) -> None:
    world = shared_world
    world.load(contacts=40, batch_size=50)
    _poison_customers(world)
    first = world.p2c("run")
    assert first.returncode == 1, first.stderr  # failed records
    [failed] = world.query("SELECT id FROM run WHERE projects = :p", p=CUSTOMERS)
    queued = world.query("SELECT count(*) AS n FROM error_queue")[0].n
    assert queued > 0
    finops = Workspace.open(world.root).finops()
    try:
        finops.upsert(
            "CustomerGroups",
            [{"dataAreaId": "usmf", "CustomerGroupId": "99", "Description": "Retail"}],
        )
    finally:
        finops.close()

    # A record that is not queued: refused as in process, with its exit status.
    unknown = world.p2c("retry", "--record", "no-such-key")
    assert unknown.returncode == 2, unknown.stderr
    assert "No failed record in the error queue has the key 'no-such-key'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    retried = world.p2c("retry", str(failed.id))

    assert retried.returncode == 0, retried.stderr
    assert "ContactToCustomer" in retried.stdout and "Completed" in retried.stdout
    runs = world.query("SELECT mode, status, started_by, pid FROM run WHERE mode = 'retry'")
    [worker] = world.workers
    assert [(r.mode, r.status, r.started_by, r.pid) for r in runs] == [
        ("retry", "Completed", "retry", worker.pid)
    ]
    assert world.query("SELECT count(*) AS n FROM error_queue")[0].n == 0
    nothing = world.p2c("retry", "--all")
    assert nothing.returncode == 0, nothing.stderr
    assert "Nothing to retry: the error queue is empty." in nothing.stdout


def test_the_checks_before_a_run_spend_the_identities_shared_budgets(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests `p2c run` makes itself (the organizations checked before anything is
    sent) count in the servers' windows as the workers' do: they go through the budgets in
    Redis, or the workers would learn too small a quota."""
    monkeypatch.setenv(SECRET_ENV, DEFAULT_SECRET)
    redis_server.flush()
    root = tmp_path / "ws"
    init_workspace(root)
    with serve(root) as running:
        use_connection_set(root, "emulator", emulator_connections(running))
        config = root / CONFIG_FILE
        text = config.read_text(encoding="utf-8") + executor_yaml(redis_server.url)
        config.write_text(text, encoding="utf-8")
        cancel = CancelToken()
        cancel.cancel("only the checks")  # nothing is sent: no worker runs
        runs = RemoteRuns(Workspace.open(root))
        try:
            runs.run([ACCOUNTS], cancel=cancel)
        finally:
            runs.close()

    with redis_server.client() as client:
        logs = client.keys("p2c:budget:*:log")
        assert len(logs) == 2  # Sales (business units) and F&O (legal entities)
        assert all(client.zcard(log) >= 1 for log in logs)
