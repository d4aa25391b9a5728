"""The Data Integrator's "Save as template": a project's effective template (its template
with the project's changes) written as a template of the workspace, ``templates/NAME.yaml``,
in the layout of the built-in ones."""

from __future__ import annotations

__all__ = ["template_change", "template_file_name", "template_yaml"]

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from p2c._errors import ConfigError, NotFoundError
from p2c._yamlfile import parse_document
from p2c.config._change import ConfigChange, check_text
from p2c.config._check import check_workspace
from p2c.config._document import YamlDocument, flow, new_map
from p2c.templates import Leg, Template, TemplateCatalog

_NOT_IN_NAME = re.compile(r"[^a-z0-9]+")
_ONE_LEG = "Source > Destination"  # the name of the leg a task's short form makes


def template_file_name(name: str) -> str:
    """The file of a saved template: its name in lower case, words joined by ``-``."""
    stem = _NOT_IN_NAME.sub("-", name.lower()).strip("-")
    return f"{stem or 'template'}.yaml"


def _leg_yaml(leg: Leg, named: bool) -> dict[str, Any]:
    from p2c.config._edit import transform_yaml  # the editor imports this module

    source = leg.source.model_dump(mode="json", exclude_none=True)
    destination = leg.destination.model_dump(mode="json")
    data: dict[str, Any] = {"name": leg.name} if named else {}
    data["source"] = flow(source)
    data["destination"] = flow(destination)
    data["map"] = new_map(*((f, flow(transform_yaml(t))) for f, t in leg.map.items()))
    return data


def template_yaml(template: Template) -> str:
    """A template as YAML: a task of one leg in the short form (source, destination, map),
    transforms on one line where they fit, as the built-in templates are written."""
    tasks = []
    for task in template.tasks:
        if len(task.legs) == 1 and task.legs[0].name == _ONE_LEG:
            tasks.append(new_map(("name", task.name), *_leg_yaml(task.legs[0], False).items()))
        else:
            legs = [new_map(*_leg_yaml(leg, True).items()) for leg in task.legs]
            tasks.append(new_map(("name", task.name), ("legs", legs)))
    document = YamlDocument("")
    document.data.update(
        new_map(
            ("name", flow(template.name)),
            ("description", flow(template.description)),
            ("generation", template.generation),
            ("requires", flow(list(template.requires))),
            ("tasks", tasks),
        )
    )
    return document.dump()


def template_change(
    root: Path, text: str, catalog: TemplateCatalog, project: str, name: str
) -> ConfigChange:
    """The change that saves ``project``'s effective template as template ``name``.

    Raises:
        ConfigError: p2c.yaml (``text``) is refused by its checks, so the project's effective
            template is not known; or a template named ``name`` exists.
        NotFoundError: no such project.
    """
    from p2c.workspace import CONFIG_FILE, TEMPLATES_FOLDER, WorkspaceConfig

    config, lines = parse_document(text, root / CONFIG_FILE, WorkspaceConfig)
    checked = check_workspace(config, lines, root, catalog)
    found = [p for p in checked.projects if p.name == project]
    if not found:
        raise NotFoundError(
            f"p2c.yaml has no project {project!r}.",
            fix="`p2c projects` lists the workspace's projects",
        )
    name = name.strip()
    if not name:
        raise ConfigError("A template needs a name.", fix="give the template a name")
    if name in catalog.all():
        raise ConfigError(
            f"A template named {name!r} exists already.",
            fix="give the template a name of its own (`p2c templates` lists them)",
        )
    effective = found[0].effective_template(catalog)
    saved = effective.model_copy(
        update={
            "name": name,
            "description": f"Saved from project {project!r} on "
            f"{datetime.now(UTC):%Y-%m-%d} (template {found[0].template!r} with the project's "
            "changes).",
        }
    )
    path = root / TEMPLATES_FOLDER / template_file_name(name)
    after = template_yaml(saved)
    change = ConfigChange(root, path, f"save project {project!r} as template {name!r}", None, after)
    if path.exists():
        return _refused(change, f"{change.name} exists already", "choose another name")
    return _checked(change, saved, text, catalog)


def _refused(change: ConfigChange, message: str, fix: str) -> ConfigChange:
    error = ConfigError(f"{message}; nothing was written.", fix=fix)
    return ConfigChange(change.root, change.path, change.summary, None, change.after, error)


def _checked(
    change: ConfigChange, saved: Template, text: str, catalog: TemplateCatalog
) -> ConfigChange:
    """The saved file reads back as the template it was made from, and p2c.yaml still passes
    its checks with the template among the workspace's."""
    try:
        read, _ = parse_document(change.after, change.path, Template)
        if read.model_dump() != saved.model_dump():
            raise ConfigError(
                f"{change.name} would not read back as the project's template.",
                fix="please report this, with the project in p2c.yaml",
            )
        with_saved = _Catalog(catalog, saved)
        check_text(text, change.root / "p2c.yaml", change.root, with_saved)
    except ConfigError as error:
        return ConfigChange(change.root, change.path, change.summary, None, change.after, error)
    return change


class _Catalog(TemplateCatalog):
    """A catalog with one more template, not yet written."""

    def __init__(self, base: TemplateCatalog, extra: Template) -> None:
        super().__init__([], base=base)
        self._extra = extra

    def all(self) -> dict[str, Template]:
        return {**super().all(), self._extra.name: self._extra}
