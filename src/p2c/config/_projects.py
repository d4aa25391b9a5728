"""The projects of p2c.yaml: names, template, connection set, business unit, and the changes
each makes to its template (tasks, legs, removes and filters that exist and do not
contradict), then every leg of the effective template (`check_leg`)."""

from __future__ import annotations

__all__ = ["check_projects"]

from typing import TYPE_CHECKING

from p2c._errors import ConfigError
from p2c._yamlfile import YamlLines
from p2c.config._filters import READ_ALL
from p2c.config._mappings import LegOrigin, check_leg
from p2c.config._problems import Loc, Problem, near
from p2c.templates import BUILTIN, Task, Template, TemplateCatalog, Transform

if TYPE_CHECKING:
    from p2c.workspace import LegChanges, Project, TaskChanges, WorkspaceConfig


def check_projects(
    config: WorkspaceConfig, lines: YamlLines, catalog: TemplateCatalog = BUILTIN
) -> tuple[list[Project], list[Problem]]:
    """Check every project (its template from ``catalog``); return them with their
    constants converted to their fields' form, and the problems."""
    projects: list[Project] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, project in enumerate(config.projects):
        loc: Loc = ("projects", index)
        if project.name in first:
            earlier = ("projects", first[project.name])
            problems.append(
                Problem(
                    (*loc, "name"),
                    f"project {project.name!r} is defined twice (first at line "
                    f"{lines.line(earlier)}); `p2c run {project.name!r}` could not tell them apart",
                    "give each project a name of its own",
                )
            )
        first.setdefault(project.name, index)
        checked, found = _check_project(loc, project, config, catalog)
        projects.append(checked)
        problems.extend(found)
    return projects, problems


def _check_project(
    loc: Loc, project: Project, config: WorkspaceConfig, catalog: TemplateCatalog
) -> tuple[Project, list[Problem]]:
    templates = catalog.all()
    template = templates.get(project.template)
    if template is None:
        fix = near(project.template, templates) + "`p2c templates` lists the templates"
        message = f"there is no template {project.template!r}"
        return project, [Problem((*loc, "template"), message, fix)]
    problems = _check_setting(loc, project, template, config)
    for task_name, edit in project.tasks.items():
        problems.extend(_check_changes((*loc, "tasks", task_name), template, task_name, edit))
    if problems:
        return project, problems
    try:
        effective = project.effective_template(catalog)
    except ConfigError as error:  # what the checks above did not foresee
        return project, [Problem((*loc, "tasks"), error.message.rstrip("."), error.fix or "")]
    converted: dict[tuple[str, str | None, str], Transform] = {}
    for task in effective.tasks:
        changes = project.tasks.get(task.name)
        for position, leg in enumerate(task.legs):
            first, last = position == 0, position == len(task.legs) - 1
            origin = LegOrigin(loc, task.name, changes, leg.name, first, last)
            found, fixed = check_leg(leg, origin)
            problems.extend(found)
            for field, transform in fixed.items():
                in_leg = changes is not None and field in _legs_map(changes, leg.name)
                converted[(task.name, leg.name if in_leg else None, field)] = transform
    return _with_converted(project, converted), problems


def _check_setting(
    loc: Loc, project: Project, template: Template, config: WorkspaceConfig
) -> list[Problem]:
    """The connection set and business unit the project names."""
    sets = config.connection_sets
    connections = sets.get(project.connection_set)
    if connections is None:
        fix = near(project.connection_set, sets) + f"use one of: {', '.join(sets)}"
        message = f"there is no connection set {project.connection_set!r}"
        return [Problem((*loc, "connection_set"), message, fix)]
    problems = []
    if template.generation == "via-cds" and connections.cds is None:
        problems.append(
            Problem(
                (*loc, "connection_set"),
                f"template {template.name!r} goes through the CDS hub, and connection set "
                f"{project.connection_set!r} has no cds connection",
                "add cds: to the connection set, or use the direct template (`… - Direct`)",
            )
        )
    units = [m.business_unit for m in connections.organizations]
    if project.business_unit is not None and project.business_unit not in units:
        problems.append(
            Problem(
                (*loc, "business_unit"),
                f"business unit {project.business_unit!r} has no organization mapping in "
                f"connection set {project.connection_set!r}",
                near(project.business_unit, units)
                + "add it under organizations, or use one of: "
                + ", ".join(units),
            )
        )
    return problems


def _check_changes(
    loc: Loc, template: Template, task_name: str, changes: TaskChanges
) -> list[Problem]:
    """A task's changes: the task, legs and removed fields exist; no field or filter is
    changed twice; no filter is empty."""
    tasks = {t.name: t for t in template.tasks}
    task = tasks.get(task_name)
    if task is None:
        fix = near(task_name, tasks) + f"tasks of {template.name!r}: {', '.join(tasks)}"
        return [Problem(loc, f"the template has no task {task_name!r}", fix)]
    legs = {leg.name: leg for leg in task.legs}
    problems = [
        Problem(
            (*loc, "legs", name),
            f"task {task_name!r} has no leg {name!r}",
            near(name, legs) + f"use one of: {', '.join(legs)}",
        )
        for name in changes.legs
        if name not in legs
    ]
    last = task.legs[-1]
    edits = [(loc, last.name, changes)] + [
        ((*loc, "legs", name), name, c) for name, c in changes.legs.items() if name in legs
    ]
    for at, leg_name, edit in edits:
        problems.extend(_check_edit(at, legs[leg_name].map, edit))
    problems.extend(_twice(loc, task, changes))
    problems.extend(_empty_filters(loc, task, changes))
    return problems


def _check_edit(loc: Loc, template_map: dict[str, Transform], edit: LegChanges) -> list[Problem]:
    problems = []
    for position, field in enumerate(edit.remove):
        if field not in template_map:
            problems.append(
                Problem(
                    (*loc, "remove", position),
                    f"{field} is removed, and the leg does not map it",
                    near(field, template_map) + "remove a field the template maps",
                )
            )
    for field in sorted(set(edit.map) & set(edit.remove)):
        problems.append(
            Problem(
                (*loc, "map", field),
                f"{field} is both mapped and removed (the map wins)",
                f"keep one: the map entry, or {field} under remove",
            )
        )
    return problems


def _twice(loc: Loc, task: Task, changes: TaskChanges) -> list[Problem]:
    """A field or filter changed at the task and again under the leg it applies to."""
    problems = []
    last = changes.legs.get(task.legs[-1].name)
    if last is not None:
        both = (set(changes.map) | set(changes.remove)) & (set(last.map) | set(last.remove))
        for field in sorted(both):
            problems.append(
                Problem(
                    (*loc, "legs", task.legs[-1].name, "map" if field in last.map else "remove"),
                    f"{field} is changed under the task and again under leg "
                    f"{task.legs[-1].name!r} (the leg's change wins)",
                    "keep one of the two changes",
                )
            )
    first = changes.legs.get(task.legs[0].name)
    if first is not None and first.filter is not None and changes.filter is not None:
        problems.append(
            Problem(
                (*loc, "legs", task.legs[0].name, "filter"),
                f"the filter is set under the task and again under leg {task.legs[0].name!r} "
                "(the leg's wins)",
                "keep one of the two filters",
            )
        )
    return problems


def _empty_filters(loc: Loc, task: Task, changes: TaskChanges) -> list[Problem]:
    legs = {leg.name: leg for leg in task.legs}
    given = [((*loc, "filter"), changes.filter, task.legs[0].source.filter)]
    given += [
        ((*loc, "legs", name, "filter"), c.filter, legs[name].source.filter)
        for name, c in changes.legs.items()
        if name in legs
    ]
    problems = []
    for at, text, rule in given:
        if text is None or text.strip():
            continue
        dropped = f" and would drop the template's rule `{rule}`" if rule else ""
        problems.append(
            Problem(
                at,
                f"the filter is empty{dropped}",
                f"leave filter out to keep the template's, or write filter: {READ_ALL} to read "
                "every record",
            )
        )
    return problems


def _legs_map(changes: TaskChanges, leg: str) -> dict[str, Transform]:
    edit = changes.legs.get(leg)
    return edit.map if edit is not None else {}


def _with_converted(
    project: Project, converted: dict[tuple[str, str | None, str], Transform]
) -> Project:
    """The project with the converted transforms in place of those it gave."""
    if not converted:
        return project
    tasks = dict(project.tasks)
    for (task, leg, field), transform in converted.items():
        changes = tasks[task]
        if leg is None:
            changes = changes.model_copy(update={"map": {**changes.map, field: transform}})
        else:
            edit = changes.legs[leg]
            edit = edit.model_copy(update={"map": {**edit.map, field: transform}})
            changes = changes.model_copy(update={"legs": {**changes.legs, leg: edit}})
        tasks[task] = changes
    return project.model_copy(update={"tasks": tasks})
