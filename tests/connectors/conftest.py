"""Fixtures of the connector tests: a workspace with Sales data, reached in-process (the
sandbox connector) or over HTTPS through the emulator (the Dataverse and F&O connectors)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors import (
    Connection,
    DataverseConnection,
    FinOpsConnection,
    SandboxConnection,
)
from p2c.workspace import Workspace, init_workspace

# The engine tests' scenario data and helpers, and the emulator tests' helpers.
sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
sys.path.insert(0, str(Path(__file__).parent.parent / "emulator"))

from connector_world import World, emulator_connections
from engine_scenarios import BASE

KINDS = ("sandbox", "http-batch", "http-single")


@pytest.fixture(autouse=True)
def emulator_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's client secret where p2c looks for it (local only, documented)."""
    monkeypatch.setenv("P2C_EMULATOR_SECRET", "emulator-secret")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_world(tmp_path: Path, kind: str) -> Iterator[Callable[..., World]]:
    """A factory: a via-CDS workspace loaded with ``BASE`` (plus extras), and connectors of
    the test's kind; HTTP kinds behind an emulator with the given settings."""
    stack = ExitStack()
    worlds: list[World] = []

    def make(extra: dict[str, list[dict[str, Any]]] | None = None, **settings: Any) -> World:
        root = tmp_path / f"ws{len(worlds)}"
        init_workspace(root, via_cds=True)
        document = copy.deepcopy(BASE)
        for entity_set, records in (extra or {}).items():
            document.setdefault(entity_set, []).extend(copy.deepcopy(records))
        sales = Workspace.open(root).sales()
        sales.load(document)
        sales.close()
        if kind == "sandbox":
            connections: dict[str, Connection] = {
                s: SandboxConnection(path=f"sandbox/{s}.db") for s in ("sales", "finops", "cds")
            }
            world = World(root, kind, connections)
        else:
            from p2c.emulator import EmulatorSettings, serve

            running = stack.enter_context(serve(root, EmulatorSettings(**settings)))
            tuning = {"batch_size": 1 if kind == "http-single" else 50}
            data = emulator_connections(running, **tuning)
            connections = {
                "sales": DataverseConnection(**data["sales"]),
                "finops": FinOpsConnection(**data["finops"]),
                "cds": FinOpsConnection(**data["cds"]),
            }
            world = World(root, kind, connections, running)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        for connector in world.opened:
            connector.close()
    stack.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
