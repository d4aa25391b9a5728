"""Templates as a typed tree that mirrors their YAML (DESIGN.md §4.2).

A template has tasks; a task has one mapping leg (direct) or two ("Source > CDS" and
"CDS > Destination"). A leg reads a source entity through a filter and writes a destination
entity by its key, with a map of destination field -> transform:

- ``CustomerAccount: msdynce_contactnumber`` copies a source field or lookup path;
- ``{default: "10"}`` is a constant, ``{from: x, default: y}`` falls back to ``y`` when empty;
- ``{from: x, value_map: {"": USA, Sweden: SWE}}`` maps values, the blank key for empty ones;
- ``{fn: concat|upper|lower|trim|truncate, ...}`` are the named functions.
"""

from __future__ import annotations

__all__ = ["Destination", "FieldMap", "Leg", "Source", "System", "Task", "Template", "Transform"]

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

System = Literal["sales", "cds", "finops"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldMap(_Model):
    """A transform of one destination field (Data Integrator: Default, ValueMap, Fn)."""

    source: str | None = Field(None, alias="from")
    default: Any = None
    value_map: dict[str, Any] | None = None
    fn: Literal["concat", "upper", "lower", "trim", "truncate"] | None = None
    args: list[str] | None = None
    separator: str = " "
    length: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> FieldMap:
        if self.fn == "concat" and not self.args:
            raise ValueError("fn concat needs args: [field, field, ...]")
        if self.fn == "truncate" and self.length is None:
            raise ValueError("fn truncate needs length")
        if self.fn not in (None, "concat") and self.source is None:
            raise ValueError(f"fn {self.fn} needs from: <field>")
        if self.source is None and self.fn is None and self.default is None:
            raise ValueError("give from, default or fn")
        return self

    def source_fields(self) -> list[str]:
        fields = [self.source] if self.source else []
        return fields + list(self.args or [])


Transform = str | FieldMap


class Source(_Model):
    system: System
    entity: str
    filter: str | None = None


class Destination(_Model):
    system: System
    entity: str
    key: list[str]


class Leg(_Model):
    """One mapping: source entity -> destination entity."""

    name: str = ""
    source: Source
    destination: Destination
    map: dict[str, Transform]


class Task(_Model):
    """A task: one leg, or the two legs through CDS. ``source``/``destination``/``map`` on the
    task itself are the shorthand for a single leg."""

    name: str
    legs: list[Leg] = []
    source: Source | None = None
    destination: Destination | None = None
    map: dict[str, Transform] | None = None

    @model_validator(mode="after")
    def _single_leg(self) -> Task:
        shorthand = self.source is not None or self.destination is not None or self.map is not None
        if shorthand:
            if self.legs:
                raise ValueError("give either legs or source/destination/map, not both")
            if self.source is None or self.destination is None or self.map is None:
                raise ValueError("a task needs source, destination and map")
            self.legs = [
                Leg(
                    name="Source > Destination",
                    source=self.source,
                    destination=self.destination,
                    map=self.map,
                )
            ]
            self.source = self.destination = None
            self.map = None
        if not self.legs:
            raise ValueError("a task needs source, destination and map, or legs")
        return self


class Template(_Model):
    name: str
    description: str = ""
    generation: Literal["direct", "via-cds"]
    requires: list[str] = []
    tasks: list[Task]
