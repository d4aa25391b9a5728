"""The Dataverse connection type passes the conformance suite over HTTPS against the
emulator. (It reads pages, which are never sent in a ``$batch``: one variant is enough.)"""

from __future__ import annotations

from typing import Any

import pytest
from conformance import Connect, ConnectorConformance
from connector_world import emulator_connections

from p2c.connectors import Connection, DataverseConnection, System, connection_type


class TestDataverseConnector(ConnectorConformance):
    kind = connection_type("dataverse")
    through_emulator = True

    @pytest.fixture
    def connect(self) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            return DataverseConnection(**emulator_connections(running)[system])

        return connection


class TestDataverseConnectorAtAHostRoot(TestDataverseConnector):
    """The same suite with Dataverse at the root of its own port, as a real environment's
    ``https://<org>.crm.dynamics.com`` is (``p2c emulator --layout ports``)."""

    layout = "ports"
