"""Fixtures of the connector tests: a workspace with Sales data, reached in-process (the
sandbox connector) or over HTTPS through the emulator (the Dataverse and F&O connectors)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from p2c.connectors import (
    Connection,
    DataverseConnection,
    Destination,
    FinOpsConnection,
    SandboxConnection,
    Source,
    System,
    open_destination,
    open_source,
)
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

# The engine tests' scenario data and helpers.
sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))

from engine_scenarios import BASE

KINDS = ("sandbox", "http-batch", "http-single")


def emulator_connections(running: Any, **tuning: Any) -> dict[str, Any]:
    """The connection set (as p2c.yaml data) that points p2c at a running emulator."""
    auth = {
        "tenant": running.tenant,
        "client_id": running.client_id,
        "client_secret_env": running.secret_env,
        "authority_host": running.base_url,
        "ca_file": str(running.ca_file),
        **tuning,
    }
    return {
        "sales": {"type": "dataverse", "url": f"{running.base_url}/sales", **auth},
        "finops": {"type": "finops", "url": f"{running.base_url}/finops", **auth},
        "cds": {"type": "finops", "url": f"{running.base_url}/cds", **auth},
        "organizations": [{"business_unit": "Contoso Sales", "legal_entity": "usmf"}],
    }


def use_connection_set(root: Path, name: str, connections: dict[str, Any]) -> None:
    """Add a connection set to p2c.yaml and point every project at it."""
    path = root / CONFIG_FILE
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if config.get("generation") != "via-cds":
        connections = {k: v for k, v in connections.items() if k != "cds"}
    config["connection_sets"][name] = connections
    for project in config["projects"]:
        project["connection_set"] = name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@dataclass
class World:
    """A workspace and the connectors of one kind on it."""

    root: Path
    kind: str
    connections: dict[str, Connection]
    running: Any = None
    opened: list[Source | Destination] = field(default_factory=list)

    @property
    def ws(self) -> Workspace:
        return Workspace.open(self.root)

    def source(self, system: System) -> Source:
        connector = open_source(self.connections[system], system, self.root, "test")
        self.opened.append(connector)
        return connector

    def destination(self, system: System) -> Destination:
        connector = open_destination(self.connections[system], system, self.root, "test")
        self.opened.append(connector)
        return connector

    @property
    def http(self) -> bool:
        return self.kind != "sandbox"

    def export(self, system: str, entity: str) -> list[dict[str, Any]]:
        store = {"sales": self.ws.sales, "finops": self.ws.finops, "cds": self.ws.cds}[system]()
        try:
            return list(store.export(entity))
        finally:
            store.close()


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
