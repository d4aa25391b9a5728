"""The built-in Prospect-to-cash templates: YAML files beside this module."""

from __future__ import annotations

__all__ = [
    "Copy",
    "Default",
    "Destination",
    "Fn",
    "Leg",
    "Source",
    "Task",
    "Template",
    "Transform",
    "ValueMap",
    "builtin_templates",
    "get_template",
    "map_key",
    "parse_transform",
    "template_names",
    "transform_kind",
]

from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from p2c._errors import NotFoundError
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

_FOLDER = Path(__file__).parent


@cache
def builtin_templates() -> dict[str, Template]:
    """Every built-in template by name."""
    templates = {}
    for path in sorted(_FOLDER.glob("*.yaml")):
        template = Template.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        templates[template.name] = template
    return templates


def get_template(name: str) -> Template:
    try:
        return builtin_templates()[name]
    except KeyError:
        raise NotFoundError(
            f"There is no template {name!r}.", fix="`p2c templates` lists the built-in templates"
        ) from None


def template_names(generation: Literal["direct", "via-cds"]) -> list[str]:
    """Names of the built-in templates of one generation, prerequisites first."""
    chosen = [t for t in builtin_templates().values() if t.generation == generation]
    return [t.name for t in sorted(chosen, key=lambda t: (len(t.requires), t.name))]
