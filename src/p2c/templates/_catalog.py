"""Where templates come from: the built-in ones beside this module, and a workspace's own
``templates/`` folder (templates saved from a project, or written for an extension)."""

from __future__ import annotations

__all__ = ["BUILTIN", "TemplateCatalog"]

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from p2c._errors import ConfigError, NotFoundError
from p2c._yamlfile import load_model
from p2c.templates._model import Template

_BUILTIN_FOLDER = Path(__file__).parent


class TemplateCatalog:
    """The templates of some folders, by name; read once, on first use.

    Args:
        folders: Folders of ``*.yaml`` template files; a folder that does not exist has
            none.
        base: A catalog whose templates this one adds to (the built-in ones); a folder's
            template may not take a name the base already has.
    """

    def __init__(self, folders: Sequence[Path], base: TemplateCatalog | None = None) -> None:
        self.folders = tuple(folders)
        self.base = base
        self._templates: dict[str, Template] | None = None

    def extended(self, folder: Path) -> TemplateCatalog:
        """This catalog plus the templates of ``folder``."""
        return TemplateCatalog([folder], base=self)

    def all(self) -> dict[str, Template]:
        """Every template by name, the base's first."""
        if self._templates is None:
            found = dict(self.base.all()) if self.base else {}
            for folder in self.folders:
                for path in sorted(folder.glob("*.yaml")):
                    template = load_model(path, Template)
                    if template.name in found:
                        raise ConfigError(
                            f"{path}: a template named {template.name!r} exists already.",
                            fix="give the template a name of its own",
                        )
                    found[template.name] = template
            self._templates = found
        return self._templates

    def get(self, name: str) -> Template:
        """The template called ``name``; NotFoundError naming the nearest one."""
        templates = self.all()
        if name in templates:
            return templates[name]
        near = difflib.get_close_matches(name, templates, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise NotFoundError(
            f"There is no template {name!r}.", fix=f"{hint}`p2c templates` lists the templates"
        )

    def names(self, generation: Literal["direct", "via-cds"]) -> list[str]:
        """Names of the templates of one generation, prerequisites first."""
        chosen = [t for t in self.all().values() if t.generation == generation]
        return [t.name for t in sorted(chosen, key=lambda t: (len(t.requires), t.name))]


BUILTIN = TemplateCatalog([_BUILTIN_FOLDER])
