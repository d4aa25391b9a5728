"""Bounds of numbers on the command line: a run id, seconds to wait. Out of range
(``p2c retry 99999999999999999999999``, ``--wait -5``, ``--wait nan``, ``--port 70000``) is a
usage error, exit 2, with typer's message naming the option and the bound."""

from __future__ import annotations

__all__ = ["RUN_ID_MAX", "WAIT_MAX"]

RUN_ID_MAX = 2_147_483_647
"""Run ids are 32-bit in the state database (PostgreSQL ``integer``)."""

WAIT_MAX = 86_400.0
"""``--wait`` queues behind another run for at most a day."""
