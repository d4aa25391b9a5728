"""Fixtures of the workers' tests: Debian's redis-server and PostgreSQL on free loopback
ports, started by the tests; helpers are in workers_world.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# PostgreSQL as the engine's tests start it.
sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
# The connection sets that point p2c at a running emulator.
sys.path.insert(0, str(Path(__file__).parent.parent / "connectors"))

from engine_postgres import PostgresServer, database_numbers, running_postgres
from workers_world import RedisServer, World, running_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"p2c_workers_{next(database_numbers)}"
    with postgres_server.connect() as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with postgres_server.connect() as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def world(tmp_path: Path, redis_server: RedisServer, postgres_url: str) -> Iterator[World]:
    """A workspace on Celery workers: state in PostgreSQL, broker in Redis (emptied); the
    test starts the workers it needs."""
    redis_server.flush()
    world = World(tmp_path, redis_server, postgres_url)
    try:
        yield world
    finally:
        world.kill_workers()


@pytest.fixture(scope="module")
def fleet(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
) -> Iterator[World]:
    """Workers started once for the tests of a module that neither kill nor stop them, as
    the module's ``FLEET`` says: ``{"workers": N, "args": (...), "executor": {...}}``. They
    take jobs from a queue of their own, so the workers of other tests never meet them."""
    settings: dict[str, Any] = request.module.FLEET
    name = f"p2c_workers_{next(database_numbers)}"
    with postgres_server.connect() as db:
        db.execute(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("fleet")
    world = World(folder, redis_server, postgres_server.url(name))
    world.use_workers(queue=f"fleet-{folder.name}", **settings.get("executor", {}))
    try:
        world.start_workers(settings["workers"], *settings.get("args", ()))
        yield world
    finally:
        world.kill_workers()
        with postgres_server.connect() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def shared_world(fleet: World, postgres_url: str) -> World:
    """A fresh workspace (and database) for one test, run by the module's ``fleet``."""
    fleet.renew(postgres_url)
    return fleet
