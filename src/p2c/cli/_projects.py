"""``p2c templates`` and ``projects``: what there is to run, laid out for the terminal's
width, or as JSON with ``--json`` (shapes in docs/operations.md)."""

from __future__ import annotations

__all__ = ["register_projects"]

import os
from pathlib import Path
from typing import Any

import typer

from p2c.cli._edit import register_edits
from p2c.cli._layout import Column, Grid
from p2c.cli._render import (
    JsonOption,
    WorkspaceOption,
    out,
    print_json,
    print_lines,
    print_wrapped,
    status_cell,
)
from p2c.cli._serve import schedule_app
from p2c.engine import StateStore
from p2c.templates import BUILTIN, TemplateCatalog, builtin_templates
from p2c.workspace import CONFIG_FILE, TEMPLATES_FOLDER, Workspace


def _projects_document(ws: Workspace, state: StateStore) -> dict[str, Any]:
    short = ws.display_names()
    return {
        "projects": [
            {
                "name": p.name,
                "alias": p.alias,
                "short_name": short[p.name],
                "template": p.template,
                "connection_set": p.connection_set,
                "changed_tasks": list(p.tasks),
                "last_status": state.last_status(p.name),
            }
            for p in ws.config.projects
        ]
    }


def _projects_grid(document: dict[str, Any]) -> Grid:
    projects = document["projects"]
    # Columns with nothing to say are left out: a template each project is named after,
    # tasks no project changes.
    templates = any(p["template"] != p["name"] for p in projects)
    changes = any(p["changed_tasks"] for p in projects)
    columns = [Column("short name"), Column("connection set", short="set")]
    columns += [Column("template", drop=2)] if templates else []
    columns += [Column("changed tasks", drop=1)] if changes else []
    grid = Grid("project", [*columns, Column("last status")])
    for p in projects:
        status = p["last_status"]
        cells: list[Any] = [p["short_name"], p["connection_set"]]
        cells += [p["template"]] if templates else []
        cells += [", ".join(p["changed_tasks"])] if changes else []
        grid.row(p["name"], *cells, status_cell(status) if status else "never run")
    return grid


def _catalog(workspace: Path | None) -> TemplateCatalog:
    """The built-in templates, and the workspace's own (``templates/``) when there is one."""
    folder = Path(workspace or os.environ.get("P2C_WORKSPACE") or ".")
    if (folder / CONFIG_FILE).exists():
        return BUILTIN.extended(folder / TEMPLATES_FOLDER)
    return BUILTIN


def _templates_document(catalog: TemplateCatalog) -> dict[str, Any]:
    built_in = builtin_templates()
    return {
        "templates": [
            {
                "name": t.name,
                "generation": t.generation,
                "tasks": [
                    {"name": task.name, "legs": [leg.name for leg in task.legs]} for task in t.tasks
                ],
                "requires": list(t.requires),
                "saved": t.name not in built_in,
            }
            for t in catalog.all().values()
        ]
    }


def register_projects(app: typer.Typer) -> None:
    """``p2c templates`` and ``p2c projects``: each lists when called alone, and is the group
    of the commands that edit (``templates save``, ``projects add``: cli/_edit.py)."""
    templates_app = typer.Typer(
        help="The built-in templates; `templates save` saves a project's as a new one.",
        invoke_without_command=True,
    )
    projects_app = typer.Typer(
        help="The workspace's projects; `projects add` adds one from a template.",
        invoke_without_command=True,
    )

    @templates_app.callback()
    def templates(
        ctx: typer.Context, workspace: WorkspaceOption = None, json: JsonOption = False
    ) -> None:
        """The built-in templates with their tasks and prerequisites, and the workspace's
        own (saved with `p2c templates save`) when run in one."""
        if ctx.invoked_subcommand is not None:
            return
        document = _templates_document(_catalog(workspace))
        if json:
            print_json(document)
            return
        for t in document["templates"]:
            saved = ", saved in the workspace" if t["saved"] else ""
            print_wrapped(f"{t['name']} ({t['generation']}{saved})", "bold")
            for task in t["tasks"]:
                print_wrapped(f"task {task['name']}: {', '.join(task['legs'])}", indent=2)
            if t["requires"]:
                print_wrapped(f"requires {', '.join(t['requires'])}", indent=2)

    @projects_app.callback()
    def projects(
        ctx: typer.Context, workspace: WorkspaceOption = None, json: JsonOption = False
    ) -> None:
        """The workspace's projects with the short name to type, and their last status.

        The short name (or the project's alias) names it on the command line:
        `p2c run contacts`. Also: the connection set, the tasks p2c.yaml changes.
        """
        if ctx.invoked_subcommand is not None:
            return
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        try:
            document = _projects_document(ws, state)
        finally:
            state.close()
        if json:
            print_json(document)
            return
        print_lines(_projects_grid(document).lines(out.width))

    app.add_typer(templates_app, name="templates")
    app.add_typer(projects_app, name="projects")
    register_edits(app, projects_app, templates_app, schedule_app)
