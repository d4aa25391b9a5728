"""Runs on real `p2c worker` processes: a worker killed with SIGKILL mid-run, two projects
in parallel, a broker that is down, a worker stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

from workers_world import World, free_port, run_in_process, wait_for

# Two workers for the tests that neither kill nor stop a worker.
FLEET = {"workers": 2}

CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"
ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"


def _running_contacts(world: World) -> tuple[int, int] | None:
    """(run id, pid of its worker) once the Contacts task has committed a batch."""
    rows = world.query(
        "SELECT r.id, r.pid FROM task_run t JOIN run r ON r.id = t.run_id "
        "WHERE t.project = :project AND t.status = 'Running' AND t.read > 0",
        project=CONTACTS,
    )
    return (rows[0].id, rows[0].pid) if rows else None


def _running_run(world: World, project: str) -> int | None:
    """The pid of the worker running ``project``, once its run started."""
    rows = world.query(
        "SELECT pid FROM run WHERE projects = :project AND status = 'Running'", project=project
    )
    return int(rows[0].pid) if rows else None


def _both_running(world: World) -> tuple[int, int] | None:
    """The pids of the workers running Contacts and Customer, once both runs started."""
    contacts, customers = _running_run(world, CONTACTS), _running_run(world, CUSTOMERS)
    return (contacts, customers) if contacts and customers else None


def test_a_worker_killed_mid_run_is_taken_over_and_nothing_is_lost_or_doubled(
    world: World,
) -> None:
    world.load(contacts=400, batch_size=2)
    reference = world.reference()
    world.use_workers()
    first, second = world.start_workers(2)
    run = world.start_p2c("run")

    run_id, pid = wait_for(lambda: _running_contacts(world), "the Contacts task to run")
    assert pid in (first.pid, second.pid)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    _, err = run.communicate(timeout=60)
    taken_over_in = time.monotonic() - killed_at

    assert run.returncode == 0, err
    assert taken_over_in < 30, f"the run took {taken_over_in:.0f} s to finish on the other worker"
    # The killed run is in the history as stopped; another run of the project completed.
    runs = world.query(
        "SELECT id, status, message, pid FROM run WHERE projects = :project ORDER BY id",
        project=CONTACTS,
    )
    assert [r.status for r in runs] == ["Error", "Completed"]
    assert runs[0].id == run_id
    # (The killed worker is the test's unreaped child, so its pid looks alive: its silence
    # for stale_after_seconds is what tells it is gone.)
    assert "before it finished" in runs[0].message
    assert runs[1].pid != pid
    # F&O holds exactly what an uninterrupted run writes, record by record.
    assert run_in_process(reference).exit_code == 0
    assert World.finops(world.root) == World.finops(reference)
    # Lineage: one row per contact person, none twice.
    lineage = world.query(
        "SELECT count(*) AS n, count(DISTINCT source_key) AS keys FROM record_lineage "
        "JOIN lineage_leg ON lineage_leg.id = leg_id WHERE project = :project",
        project=CONTACTS,
    )
    assert lineage[0].n == lineage[0].keys == len(World.finops(reference)["CDSContactPersons"])


def test_two_projects_run_in_parallel_on_two_workers(shared_world: World) -> None:
    world = shared_world
    world.load(contacts=40, batch_size=50)
    assert world.p2c("run", "Accounts").returncode == 0
    # F&O's write lock held: each run starts, reads Sales and waits to write, so the two
    # overlap for as long as the lock is held, however fast the machine is.
    finops = sqlite3.connect(world.root / "sandbox" / "finops.db", isolation_level=None)
    finops.execute("BEGIN IMMEDIATE")
    try:
        run = world.start_p2c("run", "Contacts", "Customer")
        pids = wait_for(lambda: _both_running(world), "both runs to start")
    finally:
        finops.execute("ROLLBACK")
        finops.close()
    out, err = run.communicate(timeout=60)

    assert run.returncode == 0, err
    assert pids[0] != pids[1]  # two workers
    runs = world.query(
        "SELECT projects, started_at, finished_at, pid, status FROM run "
        "WHERE projects IN (:a, :b) ORDER BY id",
        a=CONTACTS,
        b=CUSTOMERS,
    )
    assert [r.status for r in runs] == ["Completed", "Completed"]
    assert {r.pid for r in runs} == set(pids)
    assert "Run" in out and "Contacts" in out and "ContactToCustomer" in out


def test_prerequisites_run_first_and_the_summary_is_the_engines(shared_world: World) -> None:
    world = shared_world
    world.load(contacts=40, batch_size=50)

    done = world.p2c("run", "--json")

    assert done.returncode == 0, done.stderr
    runs = world.query("SELECT projects, started_at, finished_at FROM run ORDER BY started_at")
    accounts = next(r for r in runs if r.projects == ACCOUNTS)
    assert all(accounts.finished_at <= r.started_at for r in runs if r.projects != ACCOUNTS)
    assert done.stdout.count('"exit_code": 0') == 3


def test_a_broker_that_is_down_refuses_the_run_with_exit_5(world: World) -> None:
    world.load(contacts=10, batch_size=50)
    world._edit(
        lambda text: (
            text + f'executor: {{type: celery, broker: "redis://127.0.0.1:{free_port()}/0"}}\n'
        )
    )

    done = world.p2c("run")

    assert done.returncode == 5
    assert "Cannot reach the Celery broker (Redis) at redis://127.0.0.1:" in done.stderr
    assert "No run was sent" in done.stderr
    assert "Traceback" not in done.stderr
    assert world.query("SELECT count(*) FROM run")[0][0] == 0


def test_a_worker_stopped_with_sigterm_hands_its_run_back(world: World) -> None:
    world.load(contacts=400, batch_size=2)
    reference = world.reference()
    world.use_workers()
    workers = world.start_workers(2)
    assert world.p2c("run", "Accounts").returncode == 0
    run = world.start_p2c("run", "Contacts")
    _, pid = wait_for(lambda: _running_contacts(world), "the Contacts task to run")
    stopping = next(w for w in workers if w.pid == pid)
    other = next(w for w in workers if w.pid != pid)

    stopping.send_signal(signal.SIGTERM)
    assert stopping.wait(30) == 0  # a graceful stop
    _, err = run.communicate(timeout=60)

    runs = world.query(
        "SELECT status, message, pid FROM run WHERE projects = :project ORDER BY id",
        project=CONTACTS,
    )
    assert run.returncode == 0, err
    assert "handed the run back" in err, (err, runs)
    assert [r.status for r in runs] == ["Cancelled", "Completed"]
    assert "SIGTERM" in runs[0].message
    assert runs[1].pid == other.pid
    assert run_in_process(reference).exit_code == 0
    assert (
        World.finops(world.root)["CDSContactPersons"]
        == World.finops(reference)["CDSContactPersons"]
    )


def test_a_batch_past_the_stop_grace_is_abandoned_and_run_again(world: World) -> None:
    world.load(contacts=400, batch_size=2)
    reference = world.reference()
    world.use_workers(stop_grace_seconds=0)  # no grace: the batch in progress is cut
    workers = world.start_workers(2)
    assert world.p2c("run", "Accounts").returncode == 0
    run = world.start_p2c("run", "Contacts")
    _, pid = wait_for(lambda: _running_contacts(world), "the Contacts task to run")
    stopping = next(w for w in workers if w.pid == pid)

    stopping.send_signal(signal.SIGTERM)
    assert stopping.wait(30) == 0
    _, err = run.communicate(timeout=90)

    runs = world.query(
        "SELECT status, message, pid FROM run WHERE projects = :project ORDER BY id",
        project=CONTACTS,
    )
    assert run.returncode == 0, err
    assert [r.status for r in runs] == ["Cancelled", "Completed"], runs
    assert "SIGTERM" in runs[0].message and "batch in progress abandoned" in runs[0].message
    assert runs[1].pid != pid
    # What the cut batch wrote is found again, nothing twice, nothing lost.
    assert run_in_process(reference, [ACCOUNTS, CONTACTS]).exit_code == 0
    assert World.finops(world.root) == World.finops(reference)


def test_a_worker_whose_batch_cannot_be_cut_exits_and_its_run_is_taken_over(
    world: World,
) -> None:
    world.load(contacts=400, batch_size=2)
    reference = world.reference()
    world.use_workers(stop_grace_seconds=1)
    workers = world.start_workers(2)
    assert world.p2c("run", "Accounts").returncode == 0
    # F&O locked: the first batch waits inside SQLite, where Python cannot stop it.
    finops = sqlite3.connect(world.root / "sandbox" / "finops.db", timeout=30)
    finops.execute("BEGIN EXCLUSIVE")
    try:
        run = world.start_p2c("run", "Contacts")
        pid = wait_for(lambda: _running_run(world, CONTACTS), "the Contacts run to start")
        stopping = next(w for w in workers if w.pid == pid)
        stopping.send_signal(signal.SIGTERM)
        started = time.monotonic()
        # The grace (1 s), the abandoned batch still stuck 5 s later: it exits at once.
        assert stopping.wait(30) == 1
        assert time.monotonic() - started < 15
    finally:
        finops.rollback()
        finops.close()
    _, err = run.communicate(timeout=90)

    runs = world.query(
        "SELECT status, pid FROM run WHERE projects = :project ORDER BY id", project=CONTACTS
    )
    assert run.returncode == 0, err
    assert [(r.status, r.pid == pid) for r in runs] == [("Error", True), ("Completed", False)]
    assert run_in_process(reference, [ACCOUNTS, CONTACTS]).exit_code == 0
    assert World.finops(world.root) == World.finops(reference)
