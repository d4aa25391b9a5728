"""Read a YAML file into a pydantic model, with errors that point at the line and key."""

from __future__ import annotations

__all__ = ["load_model"]

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from p2c._errors import ConfigError, P2CError

M = TypeVar("M", bound=pydantic.BaseModel)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node on ``loc`` that exists in the YAML tree."""
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                return line
            line, node = (key.start_mark.line + 1 if key else line), match
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_model(path: Path, model: type[M]) -> M:
    """Parse and validate ``path``; raise ConfigError naming line, key and fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.", fix="create it with `p2c init DIR`") from None
    try:
        tree = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: {problem}.", fix="correct the YAML syntax") from None
    try:
        return model.model_validate(data or {})
    except pydantic.ValidationError as exc:
        problems: list[P2CError] = []
        for error in exc.errors():
            loc = tuple(
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(tree, loc)
            problems.append(P2CError(f"{path.name} line {line}, key {key}: {error['msg']}"))
        first = problems[0].message
        more = (
            f" (and {len(problems) - 1} more: " + "; ".join(p.message for p in problems[1:4]) + ")"
            if len(problems) > 1
            else ""
        )
        raise ConfigError(first + more, fix="correct p2c.yaml; see docs/architecture.md") from None
