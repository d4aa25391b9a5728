"""The statements a run sends straight to the driver (``_driver.py``) write what Core reads
back, on SQLite and on PostgreSQL: task runs with their counts and times, the run's
heartbeat, cursors, the lineage lookups and the lock's heartbeat."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from p2c import ProjectBusy
from p2c.engine import Cursor, LegId, StateStore, TaskCounts
from p2c.engine._lock import ProjectLocks
from p2c.engine._tables import lock_table, run_table

LEG = LegId("Contacts", "Contacts", "Source > Destination")
OTHER = LegId("Contacts", "Contacts", "Other leg")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    state = StateStore(url)
    yield state
    state.close()


def test_task_runs_counts_and_heartbeat(store: StateStore) -> None:
    before = datetime.now(UTC)
    run_id = store.start_run(["Contacts"])
    first = store.start_task(run_id, LEG)
    second = store.start_task(run_id, OTHER)
    store.commit_batch(
        run_id, first, LEG, ("contact", "CustomerV2"), [], [], counts=TaskCounts(5, 2, 1, 1, 0, 1)
    )
    store.finish_task(second, TaskCounts(3, 3), "Completed")

    assert second == first + 1
    rows = store.task_runs(run_id)
    assert [r.id for r in rows] == [first, second]
    running, done = rows
    assert (running.status, running.finished_at, running.message) == ("Running", None, None)
    counts = (running.read, running.created, running.updated, running.unchanged)
    assert (*counts, running.skipped, running.failed) == (5, 2, 1, 1, 0, 1)
    assert (done.status, done.read, done.created, done.failed) == ("Completed", 3, 3, 0)
    assert done.finished_at.tzinfo is not None and done.finished_at >= done.started_at >= before
    run = store.run(run_id)
    assert run is not None and run.heartbeat_at.tzinfo is not None
    assert before <= run.heartbeat_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_cursor_saved_then_replaced_per_leg(store: StateStore) -> None:
    run_id = store.start_run(["Contacts"])
    assert store.cursor(LEG) is None
    store.save_cursor(run_id, LEG, Cursor("2026-01-01T00:00:00Z", "k1", "d1", None))
    store.save_cursor(run_id, LEG, Cursor("2026-02-01T00:00:00Z", "k2", "d1", "token"))
    store.save_cursor(run_id, OTHER, Cursor("", "", "d2"))

    assert store.cursor(LEG) == Cursor("2026-02-01T00:00:00Z", "k2", "d1", "token")
    assert store.cursor(OTHER) == Cursor("", "", "d2", None)
    rows = store.cursors()
    assert len(rows) == 2 and all(r.updated_at.tzinfo is not None for r in rows)


def test_lineage_lookups_and_queued_keys(store: StateStore) -> None:
    run_id = store.start_run(["Contacts"])
    task = store.start_task(run_id, LEG)
    assert not store.has_lineage(LEG)
    written = [(f"s{n:04d}", f"usmf/C{n}", f"digest{n}") for n in range(2000)]
    store.commit_batch(run_id, task, LEG, ("contact", "CustomerV2"), [], written)

    assert store.has_lineage(LEG) and not store.has_lineage(OTHER)
    # More keys than one IN list takes; some unknown, some of another leg.
    keys = [f"s{n:04d}" for n in range(0, 2000, 2)] + ["missing"]
    found = store.digests(LEG, keys)
    assert len(found) == 1000 and "missing" not in found
    assert found["s1998"] == ("usmf/C1998", "digest1998")
    assert store.digests(OTHER, keys) == {}
    assert store.queued_keys(LEG) == set()


def test_lock_heartbeat_moves(store: StateStore) -> None:
    with ProjectLocks(store.engine, ["Contacts", "Accounts"]) as locks:
        with store.engine.connect() as db:
            before = {r.project: r.heartbeat_at for r in db.execute(lock_table.select())}
        locks.heartbeat()
        with store.engine.connect() as db:
            after = {r.project: r.heartbeat_at for r in db.execute(lock_table.select())}
    assert set(after) == {"Contacts", "Accounts"}
    assert all(after[p] >= before[p] and after[p].tzinfo is not None for p in after)
    with store.engine.connect() as db:
        assert db.execute(lock_table.select()).first() is None
        assert db.execute(run_table.select()).first() is None


def test_purge_forgets_only_runs_older_than_the_retention(store: StateStore) -> None:
    old, new = store.start_run(["Contacts"]), store.start_run(["Contacts"])
    task = store.start_task(old, LEG)
    store.finish_task(task, TaskCounts(1, 1), "Completed")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    with store.engine.begin() as db:
        db.execute(run_table.update().where(run_table.c.id == old).values(started_at=long_ago))

    assert store.purge(datetime.now(UTC) - timedelta(days=30)) == 1
    assert store.purge(datetime.now(UTC) - timedelta(days=30)) == 0
    assert store.run(old) is None and store.task_runs(old) == []
    assert store.run(new) is not None


def test_a_dead_holders_lock_is_taken_over_and_its_run_settled(store: StateStore) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is gone now
    run_id = store.start_run(["Contacts"])
    seen = datetime.now(UTC) - timedelta(seconds=30)
    with store.engine.begin() as db:
        db.execute(run_table.update().where(run_table.c.id == run_id).values(pid=child.pid))
        db.execute(
            lock_table.insert().values(
                project="Contacts",
                host=socket.gethostname(),
                pid=child.pid,
                acquired_at=seen,
                heartbeat_at=seen,
            )
        )

    with ProjectLocks(store.engine, ["Contacts"]) as locks:
        assert locks.held == ["Contacts"]
        with store.engine.connect() as db:
            holder = db.execute(lock_table.select()).one()
        assert holder.pid == os.getpid()

    run = store.run(run_id)
    assert run is not None and run.status == "Error"
    assert f"pid {child.pid}" in run.message and "stopped before it finished" in run.message


def test_a_live_holders_lock_is_not_taken(store: StateStore) -> None:
    with (
        ProjectLocks(store.engine, ["Contacts"]),
        pytest.raises(ProjectBusy, match="is being run by process"),
        ProjectLocks(store.engine, ["Contacts"]),
    ):
        pass  # pragma: no cover - the lock is held
