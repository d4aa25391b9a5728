"""Quicker thread switches while legs run, and the process's interval back after the last."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from p2c.engine._switch import INTERVAL, quick_switches


@pytest.fixture(autouse=True)
def default_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(before)


def test_the_interval_is_short_while_a_leg_runs_and_back_after() -> None:
    with quick_switches():
        assert sys.getswitchinterval() == pytest.approx(INTERVAL, abs=2e-6)
    assert sys.getswitchinterval() == pytest.approx(0.005, abs=2e-6)


def test_legs_that_overlap_put_it_back_when_the_last_ends() -> None:
    first, second = quick_switches(), quick_switches()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(INTERVAL, abs=2e-6)  # the second still runs
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(0.005, abs=2e-6)


def test_a_shorter_interval_the_process_chose_is_kept_and_an_error_restores() -> None:
    sys.setswitchinterval(INTERVAL / 2)
    with pytest.raises(RuntimeError), quick_switches():
        assert sys.getswitchinterval() == pytest.approx(INTERVAL / 2, abs=2e-6)
        raise RuntimeError("the leg failed")
    assert sys.getswitchinterval() == pytest.approx(INTERVAL / 2, abs=2e-6)
