"""Opening the connector for a connection: the one place that maps types to classes."""

from __future__ import annotations

__all__ = ["System", "connection_label", "open_destination", "open_source"]

from pathlib import Path
from typing import Literal

from p2c._errors import ConfigError
from p2c.connectors._base import Destination, Source
from p2c.connectors._config import (
    Connection,
    DataverseConnection,
    FinOpsConnection,
    SandboxConnection,
)
from p2c.connectors._dataverse import DataverseDestination, DataverseSource, dataverse_session
from p2c.connectors._finops import FinOpsDestination, FinOpsSource, finops_session
from p2c.connectors._sandbox import SandboxDestination, SandboxSource
from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox

System = Literal["sales", "finops", "cds"]

_FITS: dict[str, tuple[str, ...]] = {
    "sandbox": ("sales", "finops", "cds"),
    "dataverse": ("sales",),
    "finops": ("finops", "cds"),
}


def connection_label(connection: Connection, system: System, name: str | None = None) -> str:
    """How messages name a connection: ``emulator/finops (https://…)``."""
    where = connection.path if isinstance(connection, SandboxConnection) else connection.url
    return f"{name + '/' if name else ''}{system} ({where})"


def _sandbox(
    connection: SandboxConnection, system: System, root: Path
) -> SalesSandbox | FinOpsSandbox | CDSHub:
    path = (root / connection.path).resolve()
    if system == "sales":
        return SalesSandbox(path)
    if system == "finops":
        return FinOpsSandbox(path)
    return CDSHub(path)


def _check(connection: Connection, system: System) -> None:
    if system not in _FITS[connection.type]:
        raise ConfigError(
            f"The {system} connection is of type {connection.type}, which serves "
            f"{' and '.join(_FITS[connection.type])} only.",
            fix="sales is type dataverse; finops and cds are type finops (or sandbox)",
        )


def open_source(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> Source:
    """A source reading ``system`` through ``connection``; relative paths are from ``root``."""
    _check(connection, system)
    label = connection_label(connection, system, name)
    if isinstance(connection, DataverseConnection):
        return DataverseSource(dataverse_session(connection, root, label))
    if isinstance(connection, FinOpsConnection):
        session = finops_session(connection, root, label)
        return FinOpsSource(session, cross_company=system == "finops")
    return SandboxSource(_sandbox(connection, system, root))


def open_destination(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> Destination:
    """A destination writing ``system`` through ``connection``."""
    _check(connection, system)
    label = connection_label(connection, system, name)
    if isinstance(connection, DataverseConnection):
        return DataverseDestination(dataverse_session(connection, root, label))
    if isinstance(connection, FinOpsConnection):
        session = finops_session(connection, root, label)
        return FinOpsDestination(session, cross_company=system == "finops")
    if system == "sales":
        raise ConfigError("Writing to sales is not supported.", fix="write to finops or cds")
    store = _sandbox(connection, system, root)
    assert not isinstance(store, SalesSandbox)
    return SandboxDestination(store)
