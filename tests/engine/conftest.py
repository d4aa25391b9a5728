"""Fixtures of the end-to-end engine tests: a fresh workspace per test, in both generations
(direct, and via the CDS hub), loaded with the scenario data of ``engine_scenarios``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_postgres import PostgresServer, database_numbers, running_postgres
from engine_scenarios import BASE, Scenario

from p2c.workspace import init_workspace


@pytest.fixture(params=["direct", "via-cds"])
def generation(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
def make_scenario(tmp_path: Path, generation: str) -> Iterator[Callable[..., Scenario]]:
    """A factory: a new workspace of the test's generation, loaded with ``BASE`` plus extras."""
    count = 0

    def make(
        extra: dict[str, list[dict[str, Any]]] | None = None, *, load: bool = True
    ) -> Scenario:
        nonlocal count
        count += 1
        root = tmp_path / f"ws{count}"
        init_workspace(root, via_cds=generation == "via-cds")
        scenario = Scenario(root, generation)
        # Tests run right after loading: let the cursor pass records changed this second.
        scenario.edit(lambda text: text.replace("settle_seconds: 5.0", "settle_seconds: 0.0"))
        if load:
            document = copy.deepcopy(BASE)
            for entity_set, records in (extra or {}).items():
                document.setdefault(entity_set, []).extend(copy.deepcopy(records))
            scenario.load(document)
            scenario.backdate_sales()
        return scenario

    yield make


@pytest.fixture
def scenario(make_scenario: Callable[..., Scenario]) -> Scenario:
    """A workspace of the test's generation with ``BASE`` loaded and nothing run yet."""
    return make_scenario()


# PostgreSQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the test session, on a free loopback port."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, for one test."""
    name = f"p2c_state_{next(database_numbers)}"
    with postgres_server.connect() as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with postgres_server.connect() as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
