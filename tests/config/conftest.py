"""Fixtures of the configuration checks' tests; helpers are in config_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# The connector tests' helpers: connection sets that point at a running emulator.
sys.path.insert(0, str(Path(__file__).parent.parent / "connectors"))

from config_helpers import Config

from p2c.workspace import init_workspace


@pytest.fixture
def direct(tmp_path: Path) -> Config:
    """A new workspace of the direct generation."""
    init_workspace(tmp_path / "ws")
    return Config(tmp_path / "ws")


@pytest.fixture
def via_cds(tmp_path: Path) -> Config:
    """A new workspace of the via-CDS generation."""
    init_workspace(tmp_path / "ws", via_cds=True)
    return Config(tmp_path / "ws")
