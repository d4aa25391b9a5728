"""Connectors: how p2c reads and writes each system."""

from p2c.connectors._base import Destination, ReadRequest, Record, Source, WriteResult
from p2c.connectors._config import Connection, SandboxConnection
from p2c.connectors._open import System, open_destination, open_source
from p2c.connectors._sandbox import SandboxDestination, SandboxSource

__all__ = [
    "Connection",
    "Destination",
    "ReadRequest",
    "Record",
    "SandboxConnection",
    "SandboxDestination",
    "SandboxSource",
    "Source",
    "System",
    "WriteResult",
    "open_destination",
    "open_source",
]
