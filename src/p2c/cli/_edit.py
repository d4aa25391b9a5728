"""Commands that edit p2c.yaml as the admin center does (``p2c.config.ConfigEditor``):
``projects add``, ``templates save``, ``mapping set|remove|reset|filter``, ``schedule
set|clear|notify``. Each prints the diff of the file, checks the edited text as p2c.yaml is
checked, and writes it (atomically, comments kept) unless ``--dry-run``; each write is in
the service's audit log."""

from __future__ import annotations

__all__ = ["register_edits"]

import getpass
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.text import Text

from p2c._errors import ConfigError
from p2c.cli._render import WorkspaceOption, err, out
from p2c.config import ConfigChange, ConfigEditor
from p2c.service import AccessStore, Notify, ServiceStore
from p2c.service import Schedule as ScheduleModel
from p2c.workspace import Workspace

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show the diff and write nothing.")]
LegOption = Annotated[
    str | None,
    typer.Option(
        "--leg",
        help="The leg, via CDS (default: the one writing F&O; for filters the one reading Sales).",
    ),
]
ProjectArgument = Annotated[
    str, typer.Argument(help="The project (its name, alias or short name).")
]
TaskArgument = Annotated[str, typer.Argument(help="The task (`p2c templates` lists them).")]
FieldArgument = Annotated[str, typer.Argument(help="The destination field.")]

mapping_app = typer.Typer(
    help="Change a project's field mappings and filters in p2c.yaml (comments kept).",
    no_args_is_help=True,
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _diff_lines(diff: str) -> list[Text]:
    styles = {"+": "green", "-": "red", "@": "cyan"}
    lines = []
    for line in diff.splitlines():
        head = line[:3] in ("+++", "---")
        lines.append(Text(line, style="bold" if head else styles.get(line[:1], "")))
    return lines


def apply_change(ws: Workspace, change: ConfigChange, action: str, dry_run: bool) -> None:
    """Show the change's diff; write it unless ``dry_run``, and record it in the audit log.

    Raises:
        ConfigError: the checks refuse the edited file (its message names the lines of the
            edited text, which the diff shows); nothing is written.
    """
    for line in _diff_lines(change.diff()) if change.changed else []:
        (err if change.error else out).print(line)
    if change.error is not None:
        error = change.error
        raise ConfigError(
            f"Not saved: the edited {change.name} would be refused (lines as in the diff "
            f"above): {error.message}",
            fix=error.fix,
        )
    if not change.changed:
        out.print(f"{change.name} already says so; nothing to change.")
        return
    if dry_run:
        out.print(f"Dry run: {change.name} not written.")
        return
    change.save()
    store = ServiceStore(ws.state_url())
    try:
        detail = {"summary": change.summary, "file": change.name, "before": change.digest}
        AccessStore(store.engine).audit(_actor(), action, change.name, detail)
    finally:
        store.close()
    out.print(f"Saved {change.name}: {escape(change.summary)}.")


def _transform(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"TRANSFORM {text!r} is no YAML: {getattr(exc, 'problem', exc)}.",
            fix="give a source field (firstname), or a mapping in braces: "
            "'{default: \"1\"}', '{from: address1_country, value_map: {\"\": USA}}'",
        ) from None


def _open(workspace: Any, project: str) -> tuple[Workspace, ConfigEditor, str]:
    ws = Workspace.open(workspace)
    return ws, ConfigEditor.open(ws.root), ws.find_project(project).name


@mapping_app.command("set")
def mapping_set(
    project: ProjectArgument,
    task: TaskArgument,
    field: FieldArgument,
    transform: Annotated[
        str,
        typer.Argument(
            help="A source field, or a transform as p2c.yaml writes it: '{default: \"1\"}', "
            "'{from: address1_country, value_map: {\"\": USA, Sweden: SWE}, else: USA}', "
            "'{fn: upper, from: lastname}'."
        ),
    ],
    leg: LegOption = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Map a destination field: field <- source field or Default, ValueMap, Fn."""
    ws, editor, name = _open(workspace, project)
    change = editor.set_mapping(name, task, field, _transform(transform), leg)
    apply_change(ws, change, "mapping.set", dry_run)


@mapping_app.command("remove")
def mapping_remove(
    project: ProjectArgument,
    task: TaskArgument,
    field: FieldArgument,
    leg: LegOption = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Stop mapping a destination field (remove: [field])."""
    ws, editor, name = _open(workspace, project)
    apply_change(ws, editor.remove_mapping(name, task, field, leg), "mapping.remove", dry_run)


@mapping_app.command("reset")
def mapping_reset(
    project: ProjectArgument,
    task: TaskArgument,
    field: FieldArgument,
    leg: LegOption = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Undo the project's change of a field: the template's mapping again."""
    ws, editor, name = _open(workspace, project)
    apply_change(ws, editor.reset_mapping(name, task, field, leg), "mapping.reset", dry_run)


@mapping_app.command("filter")
def mapping_filter(
    project: ProjectArgument,
    task: TaskArgument,
    filter: Annotated[
        str | None,
        typer.Argument(help="OData $filter; `all` reads every record; left out: the template's."),
    ] = None,
    leg: LegOption = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Set a task's source filter, or give the template's back."""
    ws, editor, name = _open(workspace, project)
    apply_change(ws, editor.set_filter(name, task, filter, leg), "filter.set", dry_run)


def _projects_add(
    name: Annotated[str, typer.Argument(help="The new project's name.")],
    template: Annotated[str, typer.Option("--template", "-t", help="The template.")],
    connections: Annotated[
        str, typer.Option("--connections", "-c", help="The connection set.")
    ] = "sandbox",
    business_unit: Annotated[
        str | None,
        typer.Option(
            "--business-unit",
            help="The organization mapping, by its Sales business unit (default: every "
            "mapping of the connection set).",
        ),
    ] = None,
    alias: Annotated[str | None, typer.Option(help="A short name to type.")] = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Add a project made from a template (the Data Integrator's New project)."""
    ws = Workspace.open(workspace)
    found = ws.templates.get(template)  # NotFoundError with the nearest name
    change = ConfigEditor.open(ws.root).add_project(
        name, found.name, connections, business_unit, alias
    )
    apply_change(ws, change, "project.add", dry_run)


def _templates_save(
    project: ProjectArgument,
    name: Annotated[str, typer.Argument(help="The new template's name.")],
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Save a project's template with its changes as a template of the workspace
    (templates/NAME.yaml): the Data Integrator's Save as template."""
    ws, editor, found = _open(workspace, project)
    apply_change(ws, editor.save_as_template(found, name), "template.save", dry_run)


def _schedule_set(
    project: ProjectArgument,
    every: Annotated[str | None, typer.Option(help="Interval: 15m, 2h, 1d.")] = None,
    cron: Annotated[str | None, typer.Option(help='Cron: "0 */2 * * *".')] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of --cron.")] = "UTC",
    paused: Annotated[bool, typer.Option("--paused", help="Held in p2c.yaml.")] = False,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Set a project's recurrence in p2c.yaml (p2c serve runs it by itself)."""
    try:
        schedule = ScheduleModel(every=every, cron=cron, timezone=timezone, paused=paused)
    except ValueError as exc:  # pydantic's ValidationError: the options contradict
        problems = "; ".join(str(e.get("msg")) for e in getattr(exc, "errors", lambda: [])())
        raise ConfigError(
            f"Not a schedule: {problems or exc}.", fix="see p2c schedule set -h"
        ) from None
    ws, editor, name = _open(workspace, project)
    apply_change(ws, editor.set_schedule(name, schedule), "schedule.set", dry_run)


def _schedule_clear(
    project: ProjectArgument, dry_run: DryRunOption = False, workspace: WorkspaceOption = None
) -> None:
    """Remove a project's schedule from p2c.yaml: it runs when asked."""
    ws, editor, name = _open(workspace, project)
    apply_change(ws, editor.set_schedule(name, None), "schedule.set", dry_run)


def _schedule_notify(
    project: ProjectArgument,
    email: Annotated[
        list[str] | None, typer.Option("--email", help="A recipient (repeat; none: nobody).")
    ] = None,
    on: Annotated[
        list[str] | None,
        typer.Option(
            "--on",
            help="completed, warning, error, cancelled (repeat; default: warning and error).",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Set who is mailed at the end of a project's runs (its webhook is kept)."""
    ws, editor, name = _open(workspace, project)
    current = ws.project(name).notify
    given: dict[str, Any] = {"email": list(email or [])}
    given["on"] = list(on) if on else list(current.on) if current else ["warning", "error"]
    if current and current.webhook:
        given["webhook"] = current.webhook
    try:
        notify = Notify.model_validate(given)
    except ValueError as exc:
        problems = "; ".join(str(e.get("msg")) for e in getattr(exc, "errors", lambda: [])())
        raise ConfigError(f"Not a notification: {problems or exc}.", fix="see -h") from None
    apply_change(ws, editor.set_notify(name, notify), "notify.set", dry_run)


def register_edits(
    app: typer.Typer, projects: typer.Typer, templates: typer.Typer, schedule: typer.Typer
) -> None:
    """Add the editing commands to the app and its ``projects``, ``templates`` and
    ``schedule`` groups."""
    app.add_typer(mapping_app, name="mapping")
    projects.command("add")(_projects_add)
    templates.command("save")(_templates_save)
    schedule.command("set")(_schedule_set)
    schedule.command("clear")(_schedule_clear)
    schedule.command("notify")(_schedule_notify)
