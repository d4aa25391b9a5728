"""The workspace: ``p2c.yaml`` as a typed tree, and the systems it connects.

A workspace is a folder with ``p2c.yaml`` (connection sets, organization mappings, projects),
the sandbox databases when the sandbox is used, and the state database.
"""

from __future__ import annotations

__all__ = [
    "CONFIG_FILE",
    "ConnectionSet",
    "OrganizationMapping",
    "Project",
    "SandboxConnection",
    "Workspace",
    "init_workspace",
]

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from p2c._errors import ConfigError, NotFoundError
from p2c._yamlfile import load_model
from p2c.sandbox import ROOT_BUSINESS_UNIT, CDSHub, FinOpsSandbox, SalesSandbox
from p2c.templates import template_names

CONFIG_FILE = "p2c.yaml"
Generation = Literal["direct", "via-cds"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxConnection(_Model):
    """A system of the local sandbox: a SQLite file, relative to the workspace."""

    type: Literal["sandbox"] = "sandbox"
    path: str


Connection = Annotated[SandboxConnection, Field(discriminator="type")]


class OrganizationMapping(_Model):
    """Sales business unit <-> F&O legal entity (and CDS organization for the via-CDS leg)."""

    business_unit: str
    legal_entity: str
    cds_organization: str = "ORG001"


class ConnectionSet(_Model):
    """Two connections (three via CDS), with the organization mappings between them."""

    sales: Connection
    finops: Connection
    cds: Connection | None = None
    organizations: list[OrganizationMapping]


class Project(_Model):
    """A template applied to a connection set, plus the user's changes."""

    name: str
    template: str
    connection_set: str = "sandbox"
    business_unit: str | None = None


class StateConfig(_Model):
    url: str = "sqlite:///state.db"


class WorkspaceConfig(_Model):
    version: Literal[1] = 1
    generation: Generation = "direct"
    connection_sets: dict[str, ConnectionSet]
    state: StateConfig = StateConfig()
    projects: list[Project] = []


class Workspace:
    """An opened workspace: its folder and its validated configuration."""

    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config

    @classmethod
    def open(cls, root: Path | None = None) -> Workspace:
        folder = Path(root or os.environ.get("P2C_WORKSPACE") or ".").resolve()
        path = folder / CONFIG_FILE
        if not path.exists():
            raise NotFoundError(
                f"No workspace at {folder} (no {CONFIG_FILE}).",
                fix="create one with `p2c init DIR`, or pass --workspace DIR",
            )
        return cls(folder, load_model(path, WorkspaceConfig))

    def connection_set(self, name: str = "sandbox") -> ConnectionSet:
        try:
            return self.config.connection_sets[name]
        except KeyError:
            raise ConfigError(
                f"p2c.yaml has no connection set {name!r}.",
                fix=f"use one of: {', '.join(self.config.connection_sets)}",
            ) from None

    def _path(self, connection: SandboxConnection) -> Path:
        return (self.root / connection.path).resolve()

    def sales(self, connection_set: str = "sandbox") -> SalesSandbox:
        return SalesSandbox(self._path(self.connection_set(connection_set).sales))

    def finops(self, connection_set: str = "sandbox") -> FinOpsSandbox:
        return FinOpsSandbox(self._path(self.connection_set(connection_set).finops))

    def cds(self, connection_set: str = "sandbox") -> CDSHub:
        connection = self.connection_set(connection_set).cds
        if connection is None:
            raise ConfigError(
                f"Connection set {connection_set!r} has no CDS hub.",
                fix="CDS is part of the via-CDS generation: `p2c init DIR --via-cds`",
            )
        return CDSHub(self._path(connection))


def init_workspace(root: Path, *, via_cds: bool = False, with_p2c: bool = True) -> Workspace:
    """Create a workspace: p2c.yaml, the sandbox systems, one project per built-in template.

    Raises:
        ConfigError: when ``root`` already holds a workspace.
    """
    if (root / CONFIG_FILE).exists():
        raise ConfigError(
            f"{root} already holds a workspace.", fix="choose an empty folder or remove p2c.yaml"
        )
    (root / "sandbox").mkdir(parents=True, exist_ok=True)
    generation: Generation = "via-cds" if via_cds else "direct"
    sales = SalesSandbox(root / "sandbox" / "sales.db", create=True)
    sales.initialize(with_p2c=with_p2c)
    sales.close()
    finops = FinOpsSandbox(root / "sandbox" / "finops.db", create=True)
    finops.initialize()
    finops.close()
    if via_cds:
        cds = CDSHub(root / "sandbox" / "cds.db", create=True)
        cds.initialize()
        cds.close()
    connections = ConnectionSet(
        sales=SandboxConnection(path="sandbox/sales.db"),
        finops=SandboxConnection(path="sandbox/finops.db"),
        cds=SandboxConnection(path="sandbox/cds.db") if via_cds else None,
        organizations=[OrganizationMapping(business_unit=ROOT_BUSINESS_UNIT, legal_entity="usmf")],
    )
    config = WorkspaceConfig(
        generation=generation,
        connection_sets={"sandbox": connections},
        projects=[Project(name=name, template=name) for name in template_names(generation)],
    )
    data = config.model_dump(mode="json", exclude_none=True)
    header = (
        "# p2c workspace. Connection sets, organization mappings and projects.\n"
        "# See docs/architecture.md; `p2c templates` lists the built-in templates.\n"
    )
    (root / CONFIG_FILE).write_text(
        header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    return Workspace(root.resolve(), config)
