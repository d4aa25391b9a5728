"""The sandbox connection type passes the conformance suite, in-process."""

from __future__ import annotations

from typing import Any

import pytest
from conformance import Connect, ConnectorConformance

from p2c.connectors import Connection, SandboxConnection, System, connection_type


class TestSandboxConnector(ConnectorConformance):
    kind = connection_type("sandbox")

    @pytest.fixture
    def connect(self) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            return SandboxConnection(path=f"sandbox/{system}.db")

        return connection
