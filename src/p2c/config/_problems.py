"""A configuration problem found after p2c.yaml validated, and how it reaches the user: one
`ConfigError` naming the line, the key and the fix of each problem."""

from __future__ import annotations

__all__ = ["Mismatch", "Problem", "near", "refuse"]

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from p2c._errors import ConfigError
from p2c._yamlfile import YamlLines

Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake in p2c.yaml: where (a key path), what, and how to fix it."""

    loc: Loc
    message: str
    fix: str


class Mismatch(ValueError):
    """A name or value that does not fit the model of Dynamics, with the fix; ``at`` is
    where below the mapped field it is (``("value_map", "1")``)."""

    def __init__(self, message: str, fix: str, *, at: Loc = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.at = at


def near(name: str, choices: Iterable[str]) -> str:
    """``did you mean 'firstname'? `` for the nearest choice (the same name in another case
    first), or nothing."""
    options = list(choices)
    same = [c for c in options if c.lower() == name.lower() and c != name]
    found = same or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"did you mean {found[0]!r}? " if found else ""


def refuse(problems: Sequence[Problem], lines: YamlLines) -> None:
    """Raise one ConfigError for the problems found, if any: each with its line and key.

    Raises:
        ConfigError: exit status 2; the message lists every problem in file order.
    """
    if not problems:
        return
    ordered = sorted(problems, key=lambda p: lines.line(p.loc) or 0)
    if len(ordered) == 1:
        only = ordered[0]
        raise ConfigError(f"{lines.where(only.loc)}: {only.message}.", fix=only.fix)
    listed = "\n".join(f"  - {lines.where(p.loc)}: {p.message} (fix: {p.fix})" for p in ordered)
    raise ConfigError(
        f"{lines.path.name} has {len(ordered)} configuration problems; nothing was run:\n{listed}",
        fix="correct them in p2c.yaml (docs/templates.md explains maps and filters)",
    )
