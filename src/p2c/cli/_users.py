"""``p2c users``: the people who sign in to the admin center of ``p2c serve``."""

from __future__ import annotations

__all__ = ["users_app"]

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from p2c._errors import ConfigError
from p2c.cli._render import JsonOption, WorkspaceOption, out, print_json
from p2c.service import ROLES, AccessStore, ServiceStore
from p2c.web import UserStore
from p2c.workspace import Workspace

PASSWORD_ENV = "P2C_PASSWORD"
users_app = typer.Typer(
    help="Users of the admin center (p2c serve): names, roles, passwords.", no_args_is_help=True
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _users(workspace: Path | None) -> Iterator[UserStore]:
    ws = Workspace.open(workspace)
    store = ServiceStore(ws.state_url())
    try:
        yield UserStore(AccessStore(store.engine))
    finally:
        store.close()


def _password(name: str) -> str:
    """From P2C_PASSWORD, else asked twice without echo."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    first = getpass.getpass(f"Password for {name}: ")
    second = getpass.getpass("Again: ")
    if first != second:
        raise ConfigError("The two passwords differ.", fix="type the same password twice")
    return first


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name (to sign in with).")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    workspace: WorkspaceOption = None,
) -> None:
    """Add a user. The password comes from P2C_PASSWORD, else it is asked twice."""
    if role not in ROLES:
        raise ConfigError(f"Unknown role {role!r}.", fix=f"use one of: {', '.join(ROLES)}")
    with _users(workspace) as users:
        user = users.add(name, role, _password(name), actor=_actor())
    out.print(f"Added user {escape(user.name)!r} ({user.role}).")


@users_app.command("list")
def users_list(workspace: WorkspaceOption = None, json: JsonOption = False) -> None:
    """The users and their roles (never their passwords)."""
    with _users(workspace) as users:
        found = users.users()
    rows = [
        {
            "name": u.name,
            "role": u.role,
            "created_at": u.created_at.isoformat().replace("+00:00", "Z"),
            "created_by": u.created_by,
            "last_sign_in_at": (
                u.last_sign_in_at.isoformat().replace("+00:00", "Z") if u.last_sign_in_at else None
            ),
        }
        for u in found
    ]
    if json:
        print_json(rows)
        return
    if not rows:
        out.print("No users yet: `p2c users add NAME --role admin` adds the first.")
        return
    table = Table()
    for column in ("name", "role", "created (UTC)", "by", "last sign-in (UTC)"):
        table.add_column(column)
    for u in found:
        table.add_row(
            escape(u.name),
            u.role,
            f"{u.created_at:%Y-%m-%d %H:%M}",
            escape(u.created_by),
            f"{u.last_sign_in_at:%Y-%m-%d %H:%M}" if u.last_sign_in_at else "",
        )
    out.print(table)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Remove a user: their sessions end at their next request."""
    with _users(workspace) as users:
        users.remove(name, actor=_actor())
    out.print(f"Removed user {escape(name)!r}.")


@users_app.command("set-password")
def users_set_password(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Give a user a new password (from P2C_PASSWORD, else asked twice); their sessions
    end."""
    with _users(workspace) as users:
        users.get(name)
        users.set_password(name, _password(name), actor=_actor())
    out.print(f"Set the password of {escape(name)!r}; their sessions have ended.")
