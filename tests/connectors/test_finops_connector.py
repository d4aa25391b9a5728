"""The F&O connection type passes the conformance suite over HTTPS against the emulator (F&O
and the CDS hub), with ``$batch`` and with single requests."""

from __future__ import annotations

from typing import Any

import pytest
from conformance import Connect, ConnectorConformance
from connector_world import emulator_connections

from p2c.connectors import Connection, FinOpsConnection, System, connection_type


class TestFinOpsConnector(ConnectorConformance):
    kind = connection_type("finops")
    through_emulator = True

    @pytest.fixture(params=[50, 1], ids=["batch", "single"])
    def connect(self, request: pytest.FixtureRequest) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            settings = emulator_connections(running, batch_size=request.param)[system]
            return FinOpsConnection(**settings)

        return connection
