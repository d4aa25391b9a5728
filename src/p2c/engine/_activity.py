"""The deactivation policy (``on_inactive: deactivate``): a record inactive in the source makes
its destination record inactive, and an active one active again.

What active and inactive mean is the model's (`p2c.dynamics.Activity` of each entity), so the
rule holds for any pair of entities that both have one; a leg that maps the destination's
activity field itself keeps its own mapping.
"""

from __future__ import annotations

__all__ = ["Deactivation"]

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from p2c.dynamics import Activity, Entity


@dataclass(frozen=True, slots=True)
class Deactivation:
    """Sets the destination's activity field from the source's.

    Args:
        source: What inactive means in the source entity.
        destination: What active and inactive mean in the destination entity.
    """

    source: Activity
    destination: Activity

    @classmethod
    def between(
        cls, source: Entity, destination: Entity, mapped: Collection[str]
    ) -> Deactivation | None:
        """The rule for a leg from ``source`` to ``destination`` that maps the fields
        ``mapped``; None when either entity has no activity, or the leg maps the
        destination's activity field itself."""
        if source.activity is None or destination.activity is None:
            return None
        if destination.activity.field in mapped:
            return None
        return cls(source.activity, destination.activity)

    @property
    def column(self) -> str:
        """The source field to read."""
        return self.source.field

    def apply(self, record: Mapping[str, Any], mapped: dict[str, Any]) -> None:
        """Set the destination's activity field of ``mapped`` from the source ``record``."""
        inactive = record.get(self.source.field) == self.source.inactive
        target = self.destination
        mapped[target.field] = target.inactive if inactive else target.active
