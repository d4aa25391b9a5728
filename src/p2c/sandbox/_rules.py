"""The rules of each entity of a keyed system (F&O, the CDS hub), registered by entity name.

A keyed system checks every record against its entity's fields (types, lengths, options,
a non-empty key) by itself. What else an entity checks, fills in or sets off when its
records are written is its rules class: one small subclass of :class:`EntityRules` per
entity, registered with :func:`register_rules`. A system writes only the entities it has
rules for; an extension that adds an entity to the model registers rules for it too.
"""

from __future__ import annotations

__all__ = ["EntityRules", "Rejection", "register_rules", "rules_class", "unregister_rules"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from p2c._errors import NotFoundError
from p2c.dynamics import Entity, SystemModel, system_model

if TYPE_CHECKING:
    from p2c.sandbox._keyed import KeyedSystem
    from p2c.sandbox._setwise import SetRules

SystemT = TypeVar("SystemT", bound="KeyedSystem")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a system refused a record: the field at fault and the system's message."""

    field: str | None
    message: str


class EntityRules(Generic[SystemT]):
    """The rules of one entity of a keyed system, as hooks of the system's upsert.

    The base class has none: an entity registered with ``EntityRules`` itself takes every
    record that passes its field checks (reference data, for instance). A subclass
    overrides the hooks it needs. The system makes one instance per entity when it opens,
    so the constructor must not query; every hook runs inside the batch's transaction.

    Args:
        system: The opened system: its ``store`` and whatever else it offers (F&O's
            reference data, for instance).
        entity: The entity the rules are for.
    """

    def __init__(self, system: SystemT, entity: Entity) -> None:
        self.system = system
        self.entity = entity

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> Any:
        """Fetch what ``validate`` needs for the whole batch at once (a query per batch, none
        per record); the result is passed to ``validate`` as ``context``.

        Args:
            rows: The batch's records that passed the field checks, as given (not merged).
        """
        return None

    def on_create(self, row: dict[str, Any]) -> None:
        """Fill the system's values of a new record (numbers, values from the company),
        after the fields' defaults and before ``validate``."""

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        """The rules for one record: None to accept it, or why it is refused.

        Args:
            row: The record merged over the stored one with the same key.
            existing: The stored record, or None for a new one.
            context: What ``prepare_batch`` returned.
        """
        return None

    def after_write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Side effects of the records just written (created or updated), in the same
        transaction: F&O's party records, for instance."""

    def set_wise(self) -> SetRules | None:
        """The same rules over a whole page, as SQL (``SetRules``: the values of a new
        record, predicates of the rows ``validate`` may refuse, the side effects); None,
        the default, sends every record through the hooks above one by one. A subclass
        that gives one must flag at least every row its ``validate`` refuses."""
        return None


# system name -> folded entity name or entity set -> rules class
_REGISTRY: dict[str, dict[str, type[EntityRules[Any]]]] = {"finops": {}, "cds": {}}


def _fold(model: SystemModel, name: str) -> str:
    return name.lower() if model.ignore_case else name


def register_rules(system: str, entity: str, rules: type[EntityRules[Any]]) -> None:
    """Register the rules class of an entity of ``finops`` or ``cds``.

    Systems opened afterwards use it; a second registration for the same entity replaces
    the first (an extension may tighten the built-in rules).

    Args:
        system: ``finops`` or ``cds``; Sales has no keyed writes.
        entity: The entity's name or entity set, as in the model (``CustomersV2``); the
            entity need not be in the model yet.
        rules: :class:`EntityRules` or a subclass of it.

    Raises:
        NotFoundError: ``system`` is not a keyed system.
        TypeError: ``rules`` is not an ``EntityRules`` class.
    """
    registry = _REGISTRY.get(system)
    if registry is None:
        raise NotFoundError(
            f"There are no entity rules for system {system!r}.",
            fix=f"use one of: {', '.join(_REGISTRY)}; Sales is written through its loads",
        )
    if not (isinstance(rules, type) and issubclass(rules, EntityRules)):
        raise TypeError(f"the rules of {entity!r} must be an EntityRules class, not {rules!r}")
    registry[_fold(system_model(system), entity)] = rules


def unregister_rules(system: str, entity: str) -> None:
    """Forget the rules registered for an entity (an extension unloaded, a test's own)."""
    _REGISTRY.get(system, {}).pop(_fold(system_model(system), entity), None)


def rules_class(model: SystemModel, entity: Entity) -> type[EntityRules[Any]] | None:
    """The rules class registered for an entity, by its name or else its entity set."""
    registry = _REGISTRY.get(model.name, {})
    for name in (entity.name, entity.entity_set):
        found = registry.get(_fold(model, name))
        if found is not None:
            return found
    return None
