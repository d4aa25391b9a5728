"""Connectors: how p2c reads and writes each system."""

from p2c.connectors._base import Destination, ReadRequest, Record, Source, WriteResult
from p2c.connectors._sandbox import SandboxDestination, SandboxSource

__all__ = [
    "Destination",
    "ReadRequest",
    "Record",
    "SandboxDestination",
    "SandboxSource",
    "Source",
    "WriteResult",
]
