"""The three systems of the model, each its entities by name and by entity set."""

from __future__ import annotations

__all__ = ["CDS", "FINOPS", "SALES", "SystemModel", "system_model"]

import difflib
from collections.abc import Iterable

from p2c._errors import NotFoundError
from p2c.dynamics._cds import CDS_ENTITIES
from p2c.dynamics._finops import FINOPS_ENTITIES
from p2c.dynamics._model import Entity
from p2c.dynamics._sales import SALES_ENTITIES


class SystemModel:
    """The entities of one system, found by logical name or entity set.

    Args:
        name: The system's name in templates (``sales``, ``finops``, ``cds``).
        label: Its name in messages.
        entities: Its entities.
        ignore_case: Entity names are matched case-insensitively (F&O OData), not
            exactly (Dataverse).
    """

    def __init__(
        self, name: str, label: str, entities: Iterable[Entity], *, ignore_case: bool = False
    ) -> None:
        self.name = name
        self.label = label
        self.ignore_case = ignore_case
        self._entities: dict[str, Entity] = {}
        for entity in entities:
            self.add(entity)

    @property
    def entities(self) -> tuple[Entity, ...]:
        return tuple(self._entities.values())

    def add(self, entity: Entity) -> None:
        """Add an entity to the model (an extension's; docs/extending.md)."""
        self._entities[entity.name] = entity

    def remove(self, name: str) -> None:
        """Take an added entity out of the model again, by its logical name."""
        self._entities.pop(name, None)

    def find(self, name: str) -> Entity | None:
        """The entity by entity set or logical name; None when unknown."""
        fold = str.lower if self.ignore_case else str
        wanted = fold(name)
        for entity in self._entities.values():
            if wanted in (fold(entity.entity_set), fold(entity.name)):
                return entity
        return None

    def entity(self, name: str) -> Entity:
        """The entity by entity set or logical name; NotFoundError naming the near ones."""
        found = self.find(name)
        if found is None:
            sets = sorted(e.entity_set for e in self._entities.values())
            near = difflib.get_close_matches(name, sets, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise NotFoundError(
                f"{self.label} has no entity set {name!r}.",
                fix=f"{hint}use one of: {', '.join(sets)}",
            )
        return found


SALES = SystemModel("sales", "Sales", SALES_ENTITIES)
FINOPS = SystemModel("finops", "Finance and Operations", FINOPS_ENTITIES, ignore_case=True)
CDS = SystemModel("cds", "CDS", CDS_ENTITIES, ignore_case=True)
_SYSTEMS = {s.name: s for s in (SALES, FINOPS, CDS)}


def system_model(name: str) -> SystemModel:
    """The model of a system by its template name: ``sales``, ``finops`` or ``cds``."""
    try:
        return _SYSTEMS[name]
    except KeyError:
        raise NotFoundError(
            f"There is no system {name!r}.", fix=f"use one of: {', '.join(_SYSTEMS)}"
        ) from None
