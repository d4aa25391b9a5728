"""Fixtures of the workers' tests: Debian's redis-server and PostgreSQL on free loopback
ports, started by the tests; helpers are in workers_world.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# PostgreSQL as the engine's tests start it.
sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))

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
    """A workspace on Celery workers: state in PostgreSQL, broker in Redis (emptied)."""
    redis_server.flush()
    world = World(tmp_path, redis_server, postgres_url)
    try:
        yield world
    finally:
        world.stop_workers()
