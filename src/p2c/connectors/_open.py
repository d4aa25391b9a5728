"""Opening the connector for a connection: the one place that maps types to classes."""

from __future__ import annotations

__all__ = ["System", "open_destination", "open_source"]

from pathlib import Path
from typing import Literal

from p2c._errors import ConfigError
from p2c.connectors._base import Destination, Source
from p2c.connectors._config import Connection, SandboxConnection
from p2c.connectors._sandbox import SandboxDestination, SandboxSource
from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox

System = Literal["sales", "finops", "cds"]


def _sandbox(
    connection: SandboxConnection, system: System, root: Path
) -> SalesSandbox | FinOpsSandbox | CDSHub:
    path = (root / connection.path).resolve()
    if system == "sales":
        return SalesSandbox(path)
    if system == "finops":
        return FinOpsSandbox(path)
    return CDSHub(path)


def open_source(connection: Connection, system: System, root: Path) -> Source:
    """A source reading ``system`` through ``connection``; relative paths are from ``root``."""
    return SandboxSource(_sandbox(connection, system, root))


def open_destination(connection: Connection, system: System, root: Path) -> Destination:
    """A destination writing ``system`` through ``connection``."""
    if system == "sales":
        raise ConfigError("Writing to sales is not supported.", fix="write to finops or cds")
    store = _sandbox(connection, system, root)
    assert not isinstance(store, SalesSandbox)
    return SandboxDestination(store)
