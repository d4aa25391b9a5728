"""How a person names a project on the command line: its name, its ``alias:``, its short name
(the name before the parenthesis: ``Contacts to Customer``), a unique prefix or a word of it,
ignoring case. ``p2c run contacts`` is the Contacts project, ``p2c run customer`` the
Contacts to Customer one.
"""

from __future__ import annotations

__all__ = ["NamedProject", "display_names", "find_project", "short_name"]

import re
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from p2c._errors import ConfigError, NotFoundError


class NamedProject(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def alias(self) -> str | None: ...


def short_name(name: str) -> str:
    """The name before its parenthesis: ``Contacts (Sales to Fin and Ops) - Direct`` ->
    ``Contacts``; a name without one is its own short name."""
    return name.split("(", 1)[0].strip() or name


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _has_words(name: str, query: str) -> bool:
    """The query's words stand together in the name (``customer``, ``to customer``)."""
    words, wanted = _words(name), _words(query)
    n = len(wanted)
    return n > 0 and any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


def _check_aliases(projects: Sequence[NamedProject]) -> None:
    seen: dict[str, str] = {p.name.casefold(): p.name for p in projects}
    for p in projects:
        if p.alias is None:
            continue
        other = seen.get(p.alias.casefold())
        if other is not None and other != p.name:
            raise ConfigError(
                f"p2c.yaml: the alias {p.alias!r} of project {p.name!r} is also the name or "
                f"alias of project {other!r}.",
                fix="give each project its own alias (see docs/operations.md)",
            )
        seen[p.alias.casefold()] = p.name


P = TypeVar("P", bound=NamedProject)


def find_project(projects: Sequence[P], query: str) -> P:
    """The project ``query`` names: its name, alias or short name, else the one whose name
    starts with it or holds its words, ignoring case.

    Raises:
        NotFoundError: no project matches.
        ConfigError: more than one does (the message lists them), or two projects share
            an alias.
    """
    _check_aliases(projects)
    folded = query.strip().casefold()
    tiers: list[Callable[[P], bool]] = [
        lambda p: p.name.casefold() == folded,
        lambda p: p.alias is not None and p.alias.casefold() == folded,
        lambda p: short_name(p.name).casefold() == folded,
        lambda p: bool(folded) and p.name.casefold().startswith(folded),
        lambda p: _has_words(p.name, query),
    ]
    for matches in tiers:
        found = [p for p in projects if matches(p)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ConfigError(
                f"{query!r} could be any of these projects: "
                + "; ".join(_named(p) for p in found)
                + ".",
                fix="give more of the name, or the alias",
            )
    raise NotFoundError(
        f"p2c.yaml has no project {query!r}.",
        record=query,
        fix="projects: " + "; ".join(_named(p) for p in projects)
        if projects
        else "p2c.yaml lists no projects",
    )


def _named(project: NamedProject) -> str:
    return f"{project.name} (alias {project.alias})" if project.alias else project.name


def display_names(projects: Sequence[NamedProject]) -> dict[str, str]:
    """Project name -> what to call it where room is short: its alias, else its short name
    when that names it alone, else its name."""
    shorts: dict[str, int] = {}
    for p in projects:
        key = short_name(p.name).casefold()
        shorts[key] = shorts.get(key, 0) + 1
    names = {}
    for p in projects:
        short = short_name(p.name)
        names[p.name] = p.alias or (short if shorts[short.casefold()] == 1 else p.name)
    return names
