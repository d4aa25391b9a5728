"""Which legal entity (and CDS organization) each record belongs to, from the organization
mappings of the connection set: by the record's business unit in Sales, by its organization
id in CDS."""

from __future__ import annotations

__all__ = ["OrganizationResolver"]

from typing import Any

from p2c._errors import ConfigError
from p2c.engine._records import ErrorRow
from p2c.templates import Leg
from p2c.workspace import ConnectionSet, OrganizationMapping, Project


class OrganizationResolver:
    """Decides each record's legal entity (and CDS organization) from the organization
    mappings: by the record's business unit in Sales, by its organization id in CDS."""

    def __init__(
        self, connections: ConnectionSet, project: Project, leg: Leg, column: str | None
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
        self.column = column
        system = leg.destination.system
        self.target_field = {"finops": "dataAreaId", "cds": "Organization_OrganizationId"}[system]
        self.mapped_explicitly = self.target_field in leg.map
        attribute = "business_unit" if leg.source.system == "sales" else "cds_organization"
        self.by_source: dict[str, OrganizationMapping] = {
            getattr(m, attribute): m for m in mappings
        }
        self.single = mappings[0] if len(mappings) == 1 and not self.restricted else None
        self.system = system

    @property
    def constant(self) -> dict[str, Any] | None:
        """The fields every record gets, when they do not depend on the record."""
        return None if self.single is None else self._fields(self.single)

    def values(self, record: dict[str, Any]) -> dict[str, Any] | ErrorRow | None:
        """Fields to set on the mapped record; None to skip it; an ErrorRow when unmapped."""
        mapping = self.single
        if mapping is None:
            owner = record.get(self.column) if self.column else None
            mapping = self.by_source.get(owner or "")
            if mapping is None:
                if self.restricted:
                    return None
                return ErrorRow(
                    "",
                    None,
                    self.column,
                    f"organization {owner!r} has no organization mapping; add one to "
                    "the connection set in p2c.yaml",
                )
        return self._fields(mapping)

    def _fields(self, mapping: OrganizationMapping) -> dict[str, Any]:
        if self.mapped_explicitly:
            return {}
        if self.system == "finops":
            return {"dataAreaId": mapping.legal_entity}
        return {"Organization_OrganizationId": mapping.cds_organization}
