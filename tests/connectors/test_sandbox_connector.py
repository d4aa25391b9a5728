"""The sandbox connection type passes the conformance suite, in-process."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conformance import Connect, ConnectorConformance
from connector_world import World

from p2c.connectors import (
    Connection,
    ReadRequest,
    SandboxConnection,
    System,
    connection_type,
)
from p2c.odata import parse_filter


class TestSandboxConnector(ConnectorConformance):
    kind = connection_type("sandbox")

    @pytest.fixture
    def connect(self) -> Connect:
        def connection(system: System, running: Any) -> Connection:
            return SandboxConnection(path=f"sandbox/{system}.db")

        return connection

    def test_the_sandbox_finds_the_last_record_by_the_order_backwards(self, world: World) -> None:
        order = ("modifiedon", "contactid")
        request = ReadRequest("contacts", order, filter=parse_filter("lastname ne 'Wolf'"))
        records = [r for page in world.source("sales").read(request) for r in page]
        assert len(records) > 2
        assert world.source("sales").last(replace(request, order_by=order)) == max(
            records, key=lambda r: (r["modifiedon"], r["contactid"])
        )
        # Without an order: the last by key.
        assert world.source("sales").last(request) == max(records, key=lambda r: r["contactid"])
