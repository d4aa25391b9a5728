from __future__ import annotations

from pathlib import Path

import pytest

from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox


@pytest.fixture
def sales(tmp_path: Path) -> SalesSandbox:
    system = SalesSandbox(tmp_path / "sales.db", create=True)
    system.initialize()
    return system


@pytest.fixture
def bare_sales(tmp_path: Path) -> SalesSandbox:
    """A Sales that had data before the Prospect-to-cash solution."""
    system = SalesSandbox(tmp_path / "bare-sales.db", create=True)
    system.initialize(with_p2c=False)
    return system


@pytest.fixture
def finops(tmp_path: Path) -> FinOpsSandbox:
    system = FinOpsSandbox(tmp_path / "finops.db", create=True)
    system.initialize()
    return system


@pytest.fixture
def cds(tmp_path: Path) -> CDSHub:
    system = CDSHub(tmp_path / "cds.db", create=True)
    system.initialize()
    return system
