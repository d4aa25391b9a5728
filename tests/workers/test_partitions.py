"""A first sync split into key-range partitions on the workers equals one read in one pass."""

from __future__ import annotations

import signal
from typing import Any

import sqlalchemy as sa
from workers_world import World, run_in_process, wait_for

from p2c.workspace import Workspace

# Room on each worker for its own run and for partitions of the other's.
FLEET = {
    "workers": 2,
    "args": ("--concurrency", "3"),
    "executor": {"partitions": 3, "partition_min_records": 20},
}

CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"


def _state(url: str) -> dict[str, Any]:
    """Per contact project: its first task run's counts and its cursor."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            counts = db.execute(
                sa.text(
                    "SELECT project, read, created, updated, failed FROM task_run "
                    "WHERE project IN (:a, :b) ORDER BY id"
                ),
                {"a": CONTACTS, "b": CUSTOMERS},
            ).all()
            cursors = db.execute(
                sa.text(
                    "SELECT project, watermark, last_key FROM task_cursor WHERE project IN (:a, :b)"
                ),
                {"a": CONTACTS, "b": CUSTOMERS},
            ).all()
    finally:
        engine.dispose()
    return {
        "counts": sorted(tuple(row) for row in counts),
        "cursors": sorted(tuple(row) for row in cursors),
    }


def test_a_partitioned_first_sync_equals_an_unpartitioned_one(shared_world: World) -> None:
    world = shared_world
    world.load(contacts=300, batch_size=10)
    reference = world.reference()

    done = world.p2c("run")

    assert done.returncode == 0, done.stderr
    messages = world.query(
        "SELECT message FROM task_run WHERE project IN (:a, :b)", a=CONTACTS, b=CUSTOMERS
    )
    assert len(messages) == 2
    assert all("in 3 key-range partitions in parallel" in (m.message or "") for m in messages)
    # Partitions ran as tasks of their own, beside the partition each run read itself.
    logs = world.worker_logs()
    assert logs.count("succeeded") and "p2c.partition" in logs
    assert (
        sum(1 for line in logs.splitlines() if "p2c.partition" in line and ": 'done'" in line) >= 2
    ), logs
    assert run_in_process(reference).exit_code == 0
    # F&O record by record, the counts and the cursor: as if read in one pass.
    assert World.finops(world.root) == World.finops(reference)
    ours, theirs = _state(world.state_url), _state(Workspace.open(reference).state_url())
    assert ours == theirs
    assert len(ours["cursors"]) == 2
    # The next run finds nothing new: the cursor moved past every partition.
    again = world.p2c("run", "Contacts", "--json")
    assert again.returncode == 0, again.stderr
    assert '"read": 0' in again.stdout


def _lineage(world: World) -> int:
    rows = world.query(
        "SELECT count(*) AS n FROM record_lineage JOIN lineage_leg ON lineage_leg.id = leg_id "
        "WHERE project = :p",
        p=CONTACTS,
    )
    return int(rows[0].n)


def test_partitions_stop_after_their_batch_when_the_run_is_cancelled(
    shared_world: World,
) -> None:
    world = shared_world
    world.load(contacts=1200, batch_size=2)
    reference = world.reference()
    assert world.p2c("run", "Accounts").returncode == 0
    run = world.start_p2c("run", "Contacts")
    # Every partition is running (each has written a batch) when Ctrl-C comes.
    wait_for(lambda: _partitions_writing(world), "the three partitions to write")

    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)

    assert run.returncode == 130, err
    written = _lineage(world)
    tasks = world.query("SELECT status, message, read FROM task_run WHERE project = :p", p=CONTACTS)
    assert [t.status for t in tasks] == ["Cancelled"], tasks
    assert "stopped after a whole batch" in tasks[0].message
    assert tasks[0].read == written
    # The cursor did not move: the next run reads the leg again and loses nothing.
    assert not world.query("SELECT 1 FROM task_cursor WHERE project = :p", p=CONTACTS)
    # The run ended once every partition had: none is held, nothing goes on writing.
    assert not _held_partitions(world)
    assert _lineage(world) == written
    again = world.p2c("run", "Contacts")
    assert again.returncode == 0, again.stderr
    assert run_in_process(reference).exit_code == 0
    people = World.finops(reference)["CDSContactPersons"]
    assert World.finops(world.root)["CDSContactPersons"] == people
    # Each partition had stopped after its batch in progress: far from all were read.
    assert written < len(people) / 2, (written, len(people))


def _held_partitions(world: World) -> list[bytes]:
    with world.broker.client() as client:
        return list(client.keys("p2c:job:*:part:*:lease"))


def _partitions_writing(world: World) -> bool:
    """Every key range of the Contacts task is held by a worker, and batches are in."""
    return len(_held_partitions(world)) == 3 and _lineage(world) >= 30
