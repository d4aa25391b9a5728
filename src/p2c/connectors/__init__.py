"""Connectors: how p2c reads and writes each system."""

from p2c.connectors._base import Changes, Destination, Outcome, ReadRequest, Record, Source
from p2c.connectors._check import ConnectionCheck, check_connection
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
from p2c.connectors._upgrade import upgrade_sales

__all__ = [
    "Changes",
    "Connection",
    "ConnectionCheck",
    "DataverseConnection",
    "DataverseDestination",
    "DataverseSource",
    "Destination",
    "FinOpsConnection",
    "FinOpsDestination",
    "FinOpsSource",
    "Outcome",
    "ReadRequest",
    "Record",
    "SandboxConnection",
    "SandboxDestination",
    "SandboxSource",
    "Source",
    "System",
    "check_connection",
    "connection_label",
    "open_destination",
    "open_source",
    "upgrade_sales",
]
