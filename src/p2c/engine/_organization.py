"""Which organization each record belongs to, and the organization field it gets.

The model of Dynamics says which field that is on each side: the source entity's
``organization`` names the field a record's organization is read from (a Sales record's
owning business unit, a hub record's organization id), the destination entity's the field
it is written to (F&O ``dataAreaId``, the hub's organization id). The connection set's
organization mappings name each organization once per system (`OrganizationMapping.value_for`).
"""

from __future__ import annotations

__all__ = ["OrganizationResolver"]

from typing import Any

from p2c._errors import ConfigError
from p2c.dynamics import Entity
from p2c.engine._records import ErrorRow
from p2c.templates import Leg
from p2c.workspace import ConnectionSet, OrganizationMapping, Project


class OrganizationResolver:
    """Decides each record's organization field from the organization mappings.

    Args:
        connections: The connection set, with its organization mappings.
        project: The project; its ``business_unit`` restricts the run to that mapping.
        leg: The leg; an organization field it maps itself is left to its map.
        source: The model of the leg's source entity.
        destination: The model of the leg's destination entity.

    Raises:
        ConfigError: the project names a business unit without organization mapping.
    """

    def __init__(
        self,
        connections: ConnectionSet,
        project: Project,
        leg: Leg,
        source: Entity,
        destination: Entity,
    ) -> None:
        mappings = list(connections.organizations)
        if project.business_unit:
            mappings = [m for m in mappings if m.business_unit == project.business_unit]
            if not mappings:
                raise ConfigError(
                    f"Project {project.name!r} names business unit {project.business_unit!r}, "
                    "which has no organization mapping.",
                    fix="add it under organizations in the connection set",
                )
        self.restricted = bool(project.business_unit)
        self.column = source.organization
        target = destination.organization
        self._target = None if target is None or target in leg.map else target
        self._system = leg.destination.system
        # The fields of each organization, by its name in the source's records: made once,
        # shared by every record of that organization.
        self._by_source: dict[str, dict[str, Any]] = {
            m.value_for(leg.source.system): self._fields(m) for m in mappings
        }
        self._single = self._fields(mappings[0]) if len(mappings) == 1 else None
        # Every record gets the same fields: the organization column need not be read.
        self.single = self._single is not None and not self.restricted

    @property
    def constant(self) -> dict[str, Any] | None:
        """The fields every record gets, when they do not depend on the record."""
        return self._single if self.single else None

    def values(self, record: dict[str, Any]) -> dict[str, Any] | ErrorRow | None:
        """Fields to set on the mapped record; None to skip it; an ErrorRow when unmapped."""
        if self.single:
            return self._single
        owner = record.get(self.column) if self.column else None
        fields = self._by_source.get(owner or "")
        if fields is None:
            if self.restricted:
                return None
            return ErrorRow(
                "",
                None,
                self.column,
                f"organization {owner!r} has no organization mapping; add one to "
                "the connection set in p2c.yaml",
            )
        return fields

    def _fields(self, mapping: OrganizationMapping) -> dict[str, Any]:
        if self._target is None:
            return {}
        return {self._target: mapping.value_for(self._system)}
