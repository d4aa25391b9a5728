"""Which projects run, in what order: prerequisites first (Accounts before the contacts)."""

from __future__ import annotations

__all__ = ["PlannedProject", "plan"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from p2c._errors import NotFoundError, PrerequisiteError
from p2c.templates import BUILTIN, Template, TemplateCatalog
from p2c.workspace import Project


@dataclass(frozen=True)
class PlannedProject:
    project: Project
    template: Template
    prerequisites: tuple[str, ...]  # names of the projects that must not have failed


def plan(
    projects: Sequence[Project],
    selected: Sequence[str] | None,
    last_status: Callable[[str], str | None],
    catalog: TemplateCatalog = BUILTIN,
) -> list[PlannedProject]:
    """Order the selected projects (all when none are named) by their prerequisites;
    their templates come from ``catalog``.

    Raises:
        PrerequisiteError: a required template has no project in the workspace, or a
            prerequisite project outside this run has never completed.
    """
    by_name = {p.name: p for p in projects}
    chosen = list(selected) if selected else [p.name for p in projects]
    for name in chosen:
        if name not in by_name:
            raise NotFoundError(
                f"p2c.yaml has no project {name!r}.",
                record=name,
                fix=f"projects: {', '.join(by_name)}",
            )
    by_template: dict[str, list[str]] = {}
    for p in projects:
        by_template.setdefault(p.template, []).append(p.name)
    planned: dict[str, PlannedProject] = {}
    for name in chosen:
        template = by_name[name].effective_template(catalog)
        required = [
            provider
            for template_name in template.requires
            for provider in _providers(name, template_name, by_template, chosen, last_status)
        ]
        planned[name] = PlannedProject(by_name[name], template, tuple(required))
    return _prerequisites_first(planned, chosen)


def _providers(
    name: str,
    template: str,
    by_template: dict[str, list[str]],
    chosen: Sequence[str],
    last_status: Callable[[str], str | None],
) -> list[str]:
    """The projects made from ``template``, which project ``name`` requires."""
    providers = by_template.get(template)
    if not providers:
        raise PrerequisiteError(
            f"Project {name!r} needs a project from template {template!r} "
            "to run before it, and the workspace has none.",
            record=name,
            fix=f"add a project with `template: {template}` to p2c.yaml",
        )
    for provider in providers:
        if provider not in chosen and last_status(provider) not in ("Completed", "Warning"):
            raise PrerequisiteError(
                f"Project {name!r} needs project {provider!r} to have run successfully first.",
                record=name,
                fix=f"run it first: p2c run {provider!r} (or run all projects)",
            )
    return providers


def _prerequisites_first(
    planned: dict[str, PlannedProject], chosen: Sequence[str]
) -> list[PlannedProject]:
    """The chosen projects in their order, each after the projects it requires."""
    order: list[PlannedProject] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name not in planned:
            return
        if name in path:
            raise PrerequisiteError(f"Projects require each other in a cycle: {' -> '.join(path)}.")
        for required_name in planned[name].prerequisites:
            visit(required_name, (*path, name))
        done.add(name)
        order.append(planned[name])

    for name in chosen:
        visit(name, ())
    return order
