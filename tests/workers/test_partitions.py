"""A first sync split into key-range partitions on the workers equals one read in one pass."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from workers_world import World, run_in_process

from p2c.workspace import Workspace

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


def test_a_partitioned_first_sync_equals_an_unpartitioned_one(world: World) -> None:
    world.load(contacts=300, batch_size=10)
    reference = world.reference()
    world.use_workers(partitions=3, partition_min_records=20)
    # Room on each worker for its own run and for partitions of the other's.
    world.start_worker("--concurrency", "3")
    world.start_worker("--concurrency", "3")

    done = world.p2c("run")

    assert done.returncode == 0, done.stderr
    messages = world.query(
        "SELECT message FROM task_run WHERE project IN (:a, :b)", a=CONTACTS, b=CUSTOMERS
    )
    assert len(messages) == 2
    assert all("in 3 key-range partitions in parallel" in (m.message or "") for m in messages)
    # Partitions ran as tasks of their own, beside the partition each run read itself.
    logs = "".join(p.read_text() for p in world.folder.glob("worker*.log"))
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
