"""``p2c serve``, ``p2c tokens`` and ``p2c schedule``."""

from __future__ import annotations

__all__ = ["register"]

import getpass
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from p2c._errors import ConfigError, P2CError
from p2c.cli._render import JsonOption, WorkspaceOption, err, out, print_json
from p2c.service import ROLES, AccessStore, ScheduleState, ServiceStore, SlotEvent, next_slot
from p2c.workspace import Project, Workspace

tokens_app = typer.Typer(help="API tokens of `p2c serve`.", no_args_is_help=True)
schedule_app = typer.Typer(
    help="Schedules: each project's, its next run, paused or not.", invoke_without_command=True
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger("p2c")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: a free one).")] = 8080,
    workers: Annotated[
        int,
        typer.Option(min=1, max=32, help="Scheduled runs at once (sandbox connections: keep 1)."),
    ] = 1,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Certificate file, to serve HTTPS directly.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Key file of --tls-cert.")] = None,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            help="Mark the admin center's session cookie Secure (on by itself with "
            "--tls-cert; give it behind a TLS-terminating proxy)."
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run the scheduler, the admin center (/) and the HTTP API (/api/v1, /healthz,
    /metrics) until SIGTERM or Ctrl-C; runs in progress then end Cancelled at their next
    batch."""
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together.")
    # Here, not at the top: the web stack is imported by `p2c serve` only.
    from p2c.service import Service, build_api, serve
    from p2c.web import mount_web

    ws = Workspace.open(workspace)
    _logging()
    service = Service(ws.root, workers=workers)
    tls = (tls_cert, tls_key) if tls_cert and tls_key else None
    try:
        app = mount_web(
            build_api(service), service, secure_cookies=secure_cookies or tls is not None
        )
    except P2CError:
        service.close()  # the session key is refused: nothing started yet
        raise
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with serve(service, host, port, tls=tls, app=app) as running:
            scheduled = len(service.scheduler.projects)
            out.print(
                f"p2c serve: {running.url} (workspace {ws.root}; {scheduled} scheduled "
                "project(s)). SIGTERM or Ctrl-C stops.",
                markup=False,
                highlight=False,
            )
            sys.stdout.flush()
            stop.wait()
            logging.getLogger("p2c.service").info("Stopping: runs in progress are cancelled")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    out.print("p2c serve stopped.")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the token.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    workspace: WorkspaceOption = None,
) -> None:
    """Make an API token and print it, once: only its hash is kept."""
    if role not in ROLES:
        raise ConfigError(f"Unknown role {role!r}.", fix=f"use one of: {', '.join(ROLES)}")
    ws = Workspace.open(workspace)
    store = ServiceStore(ws.state_url())
    try:
        token = AccessStore(store.engine).create_token(name, role, actor=_actor())
    finally:
        store.close()
    err.print(f"Token {escape(name)!r} ({role}). Shown only this once; keep it secret:")
    print(token)  # noqa: T201 - the one place a token is shown, alone on stdout for scripts


@tokens_app.command("list")
def tokens_list(workspace: WorkspaceOption = None) -> None:
    """The tokens (never their secrets)."""
    ws = Workspace.open(workspace)
    store = ServiceStore(ws.state_url())
    try:
        tokens = AccessStore(store.engine).tokens()
    finally:
        store.close()
    table = Table()
    for column in ("name", "role", "created (UTC)", "by", "last used (UTC)", "revoked (UTC)"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            escape(t.name),
            t.role,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            escape(t.created_by),
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a token: a running service refuses it within seconds."""
    ws = Workspace.open(workspace)
    store = ServiceStore(ws.state_url())
    try:
        AccessStore(store.engine).revoke_token(name, actor=_actor())
    finally:
        store.close()
    out.print(f"Revoked token {escape(name)!r}.")


@schedule_app.callback()
def schedule_list(
    ctx: typer.Context, workspace: WorkspaceOption = None, json: JsonOption = False
) -> None:
    """Each project's schedule, its next run, and whether it is paused."""
    if ctx.invoked_subcommand is not None:
        return
    ws = Workspace.open(workspace)
    store = ServiceStore(ws.state_url())
    try:
        states = store.schedules()
        last = {s.project: s for s in reversed(store.slots(limit=500))}
    finally:
        store.close()
    now = datetime.now(UTC)
    rows = [_schedule_row(p, states.get(p.name), last.get(p.name), now) for p in ws.config.projects]
    if json:
        print_json(rows)
        return
    table = Table()
    for column in ("project", "schedule", "next run (UTC)", "paused", "last slot"):
        table.add_column(column, overflow="fold")
    for row in rows:
        paused = row["paused"]
        table.add_row(
            escape(row["project"]),
            escape(row["schedule"] or "-"),
            (row["next_run"] or "")[:19].replace("T", " "),
            escape(f"yes: {paused}" if isinstance(paused, str) else "yes" if paused else "no"),
            escape(row["last_slot"] or ""),
        )
    out.print(table)


def _schedule_row(
    project: Project, state: ScheduleState | None, slot: SlotEvent | None, now: datetime
) -> dict[str, Any]:
    """One project's schedule as ``p2c schedule`` shows it: ``paused`` is False, True or
    the reason (``p2c.yaml``, who paused it, the threshold alert)."""
    if project.schedule is None:
        return {
            "project": project.name,
            "schedule": None,
            "next_run": None,
            "paused": False,
            "last_slot": None,
        }
    why = "p2c.yaml" if project.schedule.paused else (state.paused_reason if state else None)
    paused: bool | str = why or project.schedule.paused or bool(state and state.paused)
    due = state.next_due_at if state and state.next_due_at else next_slot(project.schedule, now)
    last = None
    if slot:
        last = f"{slot.slot_at:%H:%M:%S} {slot.outcome}" + (
            f" ({slot.run_id})" if slot.run_id else ""
        )
    return {
        "project": project.name,
        "schedule": project.schedule.describe(),
        "next_run": None if paused else max(due, now).isoformat(timespec="seconds"),
        "paused": paused,
        "last_slot": last,
    }


def _set_paused(project: str, paused: bool, workspace: Path | None) -> None:
    ws = Workspace.open(workspace)
    settings = ws.project(project)
    if settings.schedule is None:
        raise ConfigError(
            f"Project {project!r} has no schedule.",
            fix="add `schedule: {every: 15m}` to it in p2c.yaml",
        )
    if not paused and settings.schedule.paused:
        raise ConfigError(
            f"Project {project!r} is paused in p2c.yaml.",
            fix="remove `paused: true` from its schedule in p2c.yaml",
        )
    actor = _actor()
    store = ServiceStore(ws.state_url())
    try:
        store.set_paused(
            project, paused, reason=f"paused by {actor}" if paused else None, actor=actor
        )
        AccessStore(store.engine).audit(
            actor, "schedule.pause" if paused else "schedule.resume", project
        )
    finally:
        store.close()


@schedule_app.command("pause")
def schedule_pause(
    project: Annotated[str, typer.Argument(help="The project.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Hold a project's schedule (a running service sees it within a second)."""
    _set_paused(project, True, workspace)
    out.print(f"Paused the schedule of {escape(project)!r}.")


@schedule_app.command("resume")
def schedule_resume(
    project: Annotated[str, typer.Argument(help="The project.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Let a paused schedule run again from its next slot (clears an alert's pause)."""
    _set_paused(project, False, workspace)
    out.print(f"Resumed the schedule of {escape(project)!r}.")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``tokens`` and ``schedule`` to the app."""
    app.command("serve")(serve_command)
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(schedule_app, name="schedule")
