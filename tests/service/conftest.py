from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from service_world import World, make_world

from p2c.service import ManualClock, Service


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "ws")


@pytest.fixture
def clock() -> ManualClock:
    # A little after a whole hour, as a service started at any moment.
    return ManualClock(datetime(2030, 1, 7, 9, 0, 20, tzinfo=UTC))


@pytest.fixture
def make_service(world: World, clock: ManualClock) -> Iterator[Callable[..., Service]]:
    """Services over the world's workspace with the manual clock; all stopped at the end."""
    made: list[Service] = []

    def make(**options: Any) -> Service:
        options.setdefault("clock", clock)
        options.setdefault("webhook_backoff", 0.05)
        service = Service(world.root, **options)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop(timeout=30)
        service.close()
