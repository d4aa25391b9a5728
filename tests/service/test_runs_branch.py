"""What the service expects of the engine once the `runs` branch lands: the engine's own
record of who started a run. Until then the service keeps it in its own table (which the
API already shows); these tests say what the adapter (`service/_runner.py`) is to pass on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from service_world import ACCOUNTS, World

from p2c.engine import StateStore
from p2c.service import ManualClock, Service


@pytest.mark.xfail(strict=True, reason="needs the runs branch")
def test_the_engine_records_who_started_a_scheduled_run(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.project(ACCOUNTS, schedule={"every": "1m"})
    service = make_service()
    clock.advance(timedelta(minutes=1))
    service.step()
    assert service.wait_idle(60)
    state = StateStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        (run,) = state.runs()
    finally:
        state.close()
    assert run.started_by == "schedule"
    assert run.status == "Completed"
