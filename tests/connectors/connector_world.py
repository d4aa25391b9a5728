"""The connector tests' helpers: connection sets pointing at a running emulator, and a
``World`` (a workspace with connectors of one kind). Fixtures are in conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from p2c.connectors import Connection, Destination, Source, System, open_destination, open_source
from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox
from p2c.workspace import CONFIG_FILE, Workspace


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
        "sales": {"type": "dataverse", "url": running.url("sales"), **auth},
        "finops": {"type": "finops", "url": running.url("finops"), **auth},
        "cds": {"type": "finops", "url": running.url("cds"), **auth},
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
    """A workspace and the connectors of one connection type on it (``kind``, its name);
    ``running`` is the emulator when the type reaches the workspace over HTTPS."""

    root: Path
    kind: str
    connections: dict[System, Connection]
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
        return self.running is not None

    def export(self, system: System, entity: str) -> list[dict[str, Any]]:
        ws = self.ws
        opens: dict[System, Callable[[], SalesSandbox | FinOpsSandbox | CDSHub]] = {
            "sales": ws.sales,
            "finops": ws.finops,
            "cds": ws.cds,
        }
        store = opens[system]()
        try:
            return list(store.export(entity))
        finally:
            store.close()
