"""Read a YAML file into a pydantic model, with errors that point at the line and key.

`YamlLines` keeps the composed tree so that checks made after validation can name the line
of a key path too (``projects.0.tasks.Contacts.map.SiteId`` -> line 31).
"""

from __future__ import annotations

__all__ = ["KeyPath", "YamlLines", "load_document", "load_model", "parse_document"]

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from p2c._errors import ConfigError, P2CError

M = TypeVar("M", bound=pydantic.BaseModel)
KeyPath = Sequence[int | str]
"""A key path into the document: mapping keys and list positions, ``("projects", 0, "name")``."""


def _line_of(node: yaml.Node | None, loc: KeyPath) -> int | None:
    """1-based line of the deepest node on ``loc`` that exists in the YAML tree."""
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of equal keys: the one YAML keeps.
            pairs = [(k, v) for k, v in node.value if k.value == str(part)]
            if not pairs:
                return line
            key, node = pairs[-1]
            line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


class YamlLines:
    """Where the keys of a YAML file are: the line of a key path, for messages.

    Args:
        path: The file (its name starts each message).
        tree: The composed YAML tree; None when the file could not be read.
    """

    def __init__(self, path: Path, tree: yaml.Node | None) -> None:
        self.path = path
        self.tree = tree

    @classmethod
    def read(cls, path: Path) -> YamlLines:
        """The lines of a file as it is now; no lines when it cannot be read."""
        try:
            return cls(path, yaml.compose(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError):
            return cls(path, None)

    def line(self, loc: KeyPath) -> int | None:
        """The 1-based line of a key path (of its deepest part that exists)."""
        return _line_of(self.tree, loc)

    def where(self, loc: KeyPath) -> str:
        """``p2c.yaml line 31, key projects.0.tasks.Contacts.map.SiteId``."""
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = self.line(loc)
        return f"{self.path.name}{f' line {line}' if line else ''}, key {key}"

    def duplicate_keys(self) -> list[tuple[tuple[int | str, ...], int, int]]:
        """Keys given twice in one mapping, which YAML reads as the last one: (key path,
        line, line of the first), in document order."""
        found: list[tuple[tuple[int | str, ...], int, int]] = []
        stack: list[tuple[tuple[int | str, ...], yaml.Node]] = []
        if self.tree is not None:
            stack.append(((), self.tree))
        seen_nodes: set[int] = set()
        while stack:  # a loop, not recursion: documents may be deep
            loc, node = stack.pop()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                first: dict[str, int] = {}
                for key, value in node.value:
                    name = str(key.value)
                    line = key.start_mark.line + 1
                    if name in first and name != "<<":
                        found.append(((*loc, name), line, first[name]))
                    first.setdefault(name, line)
                    stack.append(((*loc, name), value))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(((*loc, i), item) for i, item in enumerate(node.value))
        return sorted(found, key=lambda f: f[1])


# Where p2c.yaml's keys are documented, by the key path of an error.
_PAGES = {
    "connection_sets": "docs/connectors.md",
    "state": "docs/operations.md",
    "notifications": "docs/operations.md",
    "alerts": "docs/operations.md",
    "admin_center": "docs/operations.md",
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
    return load_document(path, model)[0]


def load_document(path: Path, model: type[M]) -> tuple[M, YamlLines]:
    """Parse and validate ``path``, and keep where its keys are.

    Raises:
        ConfigError: the file is missing, is no YAML, gives a key twice in one mapping, or
            does not fit ``model``; the message names the line, the key and the fix.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.", fix="create it with `p2c init DIR`") from None
    return parse_document(text, path, model)


def parse_document(text: str, path: Path, model: type[M]) -> tuple[M, YamlLines]:
    """Parse and validate ``text`` as the content of ``path`` (which names it in messages),
    with the same checks and messages as `load_document`: an edit is checked before it is
    written.

    Raises:
        ConfigError: as `load_document`.
    """
    try:
        lines = YamlLines(path, yaml.compose(text))
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: {problem}.", fix="correct the YAML syntax") from None
    duplicates = lines.duplicate_keys()
    if duplicates:
        loc, _line, first = duplicates[0]
        raise ConfigError(
            f"{lines.where(loc)}: {loc[-1]} is given twice in the same mapping (first on line "
            f"{first}); YAML would keep only the last one.",
            fix="remove one of them (or merge them into one)",
        )
    try:
        return model.model_validate(data or {}), lines
    except pydantic.ValidationError as exc:
        problems: list[P2CError] = []
        pages: list[str] = []
        for error in exc.errors():
            loc = tuple(
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            pages.append(docs_page(loc))
            problems.append(P2CError(f"{lines.where(loc)}: {error['msg']}"))
        first_message = problems[0].message
        more = (
            f" (and {len(problems) - 1} more: " + "; ".join(p.message for p in problems[1:4]) + ")"
            if len(problems) > 1
            else ""
        )
        raise ConfigError(first_message + more, fix=f"correct p2c.yaml; see {pages[0]}") from None
