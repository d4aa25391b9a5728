"""Templates: the built-in Prospect-to-cash ones (YAML files beside this module), a
workspace's own, and their typed model."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BUILTIN",
    "Copy",
    "Default",
    "Destination",
    "Fn",
    "Leg",
    "Source",
    "Task",
    "Template",
    "TemplateCatalog",
    "Transform",
    "ValueMap",
    "builtin_templates",
    "get_template",
    "map_key",
    "parse_transform",
    "template_names",
    "transform_kind",
]

from p2c.templates._catalog import BUILTIN, TemplateCatalog
from p2c.templates._model import (
    Copy,
    Default,
    Destination,
    Fn,
    Leg,
    Source,
    Task,
    Template,
    Transform,
    ValueMap,
    map_key,
    parse_transform,
    transform_kind,
)


def builtin_templates() -> dict[str, Template]:
    """Every built-in template by name."""
    return BUILTIN.all()


def get_template(name: str) -> Template:
    """The built-in template called ``name``."""
    return BUILTIN.get(name)


def template_names(generation: Literal["direct", "via-cds"]) -> list[str]:
    """Names of the built-in templates of one generation, prerequisites first."""
    return BUILTIN.names(generation)
