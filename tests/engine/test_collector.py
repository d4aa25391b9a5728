"""A leg runs with the objects alive before it frozen out of the collector's reach, and
they are back in it when the leg ends, however it ends."""

from __future__ import annotations

import gc

import pytest

from p2c.engine._collector import objects_before_kept


def test_objects_alive_before_are_frozen_for_the_block_only() -> None:
    assert gc.get_freeze_count() == 0
    with objects_before_kept():
        assert gc.get_freeze_count() > 1000  # the modules, at least
        young: list[list[int]] = [[]]  # a new container is still collected as ever
        assert gc.is_tracked(young)
    assert gc.get_freeze_count() == 0


def test_they_are_unfrozen_when_the_leg_fails() -> None:
    with pytest.raises(RuntimeError), objects_before_kept():
        raise RuntimeError("leg failed")
    assert gc.get_freeze_count() == 0
