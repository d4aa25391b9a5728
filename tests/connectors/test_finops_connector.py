"""The F&O connection type passes the conformance suite over HTTPS against the emulator (F&O
and the CDS hub), with ``$batch``, with single requests, and writing F&O through the Data
management package API."""

from __future__ import annotations

from typing import Any

import pytest
from conformance import Connect, ConnectorConformance
from connector_world import emulator_connections

from p2c.connectors import Connection, FinOpsConnection, System, connection_type

MODES: dict[str, dict[str, Any]] = {
    "batch": {"batch_size": 50},
    "single": {"batch_size": 1},
    "package": {"batch_size": 50, "write": "package", "package_poll": 0.02},
}


class TestFinOpsConnector(ConnectorConformance):
    kind = connection_type("finops")
    through_emulator = True

    @pytest.fixture(params=list(MODES))
    def connect(self, request: pytest.FixtureRequest) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            settings = emulator_connections(running, **MODES[request.param])[system]
            return FinOpsConnection(**settings)

        return connection


class TestFinOpsConnectorAtAHostRoot(TestFinOpsConnector):
    """The same suite with F&O and the CDS hub each at the root of its own port, as a real
    environment's ``https://<env>.operations.dynamics.com`` is (``--layout ports``): with
    ``$batch``, and through the package API, whose blob URLs are followed as handed out."""

    layout = "ports"

    @pytest.fixture(params=["batch", "package"])
    def connect(self, request: pytest.FixtureRequest) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            settings = emulator_connections(running, **MODES[request.param])[system]
            return FinOpsConnection(**settings)

        return connection
