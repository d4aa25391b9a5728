"""`p2c serve` with the Celery executor: due runs go to the workers, and a broker that is
down is tried again and recorded, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from workers_world import World, free_port, wait_for

from p2c.service import ManualClock, Service
from p2c.service._runner import RunRequest

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"


def test_the_service_sends_runs_to_the_workers_and_follows_them(world: World) -> None:
    world.load(contacts=40, batch_size=50)
    world.use_workers()
    worker = world.start_worker()
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
