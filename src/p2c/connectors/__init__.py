"""Connectors: how p2c reads and writes each system."""

from p2c.connectors._base import Changes, Destination, ReadRequest, Record, Source, WriteResult
from p2c.connectors._config import (
    Connection,
    DataverseConnection,
    FinOpsConnection,
    SandboxConnection,
)
from p2c.connectors._dataverse import DataverseDestination, DataverseSource
from p2c.connectors._finops import FinOpsDestination, FinOpsSource
from p2c.connectors._open import System, connection_label, open_destination, open_source
from p2c.connectors._sandbox import SandboxDestination, SandboxSource

__all__ = [
    "Changes",
    "Connection",
    "DataverseConnection",
    "DataverseDestination",
    "DataverseSource",
    "Destination",
    "FinOpsConnection",
    "FinOpsDestination",
    "FinOpsSource",
    "ReadRequest",
    "Record",
    "SandboxConnection",
    "SandboxDestination",
    "SandboxSource",
    "Source",
    "System",
    "WriteResult",
    "connection_label",
    "open_destination",
    "open_source",
]
