"""Fixtures of the connector tests. The conformance suite's workspaces (``World``) are made by
the suite itself (conformance.py); the helpers it shares with other tests are in
connector_world.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The engine tests' scenario data and helpers, and the emulator tests' helpers.
sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
sys.path.insert(0, str(Path(__file__).parent.parent / "emulator"))


@pytest.fixture(autouse=True)
def emulator_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's client secret where p2c looks for it (local only, documented)."""
    monkeypatch.setenv("P2C_EMULATOR_SECRET", "emulator-secret")
