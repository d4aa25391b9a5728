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


# Where p2c.yaml's keys are documented, by the key path of an error.
_PAGES = {
    "connection_sets": "docs/connectors.md",
    "state": "docs/operations.md",
    "notifications": "docs/operations.md",
    "alerts": "docs/operations.md",
}
_PROJECT_PAGES = {
    "connection_set": "docs/connectors.md",
    "alias": "docs/operations.md",
    "on_inactive": "docs/operations.md",
    "max_failed_records": "docs/operations.md",
    "batch_size": "docs/operations.md",
    "schedule": "docs/operations.md",
    "notify": "docs/operations.md",
}


def docs_page(loc: tuple[int | str, ...]) -> str:
    """The page that documents the key at ``loc``: mappings and projects in
    docs/templates.md, connections in docs/connectors.md, state and run settings in
    docs/operations.md, the rest in docs/architecture.md."""
    if not loc:
        return "docs/architecture.md"
    if loc[0] == "projects":
        keys = [p for p in loc[2:] if isinstance(p, str)]
        if keys and keys[0] == "tasks":
            task_keys = [k for k in keys[2:] if k in ("on_inactive", "max_failed_records")]
            return "docs/operations.md" if task_keys else "docs/templates.md"
        return _PROJECT_PAGES.get(keys[0], "docs/templates.md") if keys else "docs/templates.md"
    return _PAGES.get(str(loc[0]), "docs/architecture.md")


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
        pages: list[str] = []
        for error in exc.errors():
            loc = tuple(
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            pages.append(docs_page(loc))
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(tree, loc)
            problems.append(P2CError(f"{path.name} line {line}, key {key}: {error['msg']}"))
        first = problems[0].message
        more = (
            f" (and {len(problems) - 1} more: " + "; ".join(p.message for p in problems[1:4]) + ")"
            if len(problems) > 1
            else ""
        )
        fix = f"correct p2c.yaml; see {pages[0]}"
        raise ConfigError(first + more, fix=fix) from None
