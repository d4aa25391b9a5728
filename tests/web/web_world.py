"""The admin center over a real workspace: the sandbox with sample data, the service and
its pages served by uvicorn on a free loopback port, and users of each role."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from p2c.sandbox import sample_document
from p2c.service import Runner, Service, build_api, serve
from p2c.web import mount_web
from p2c.workspace import CONFIG_FILE, init_workspace

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"
PROJECTS = (ACCOUNTS, CONTACTS, CUSTOMERS)
PASSWORD = "a-long-test-password"
USERS = {"alice": "admin", "olivia": "operator", "victor": "viewer"}


def make_workspace(root: Path, contacts: int = 12) -> Path:
    """A workspace with sample Sales data created an hour ago (so a run reads it)."""
    ws = init_workspace(root)
    sales = ws.sales()
    try:
        sales.load(sample_document(contacts))
    finally:
        sales.close()
    config = root / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("settle_seconds: 5.0", "settle_seconds: 0.0", 1), "utf-8")
    moment = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(root / "sandbox" / "sales.db") as db:
        for table in ("account", "contact", "quote", "salesorder", "invoice"):
            db.execute(f"UPDATE {table} SET createdon = ?, modifiedon = ?", (moment, moment))
    return root


def edit_project(root: Path, name: str, **keys: Any) -> None:
    """Set keys of a project in p2c.yaml."""
    path = root / CONFIG_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (project,) = [p for p in data["projects"] if p["name"] == name]
    project.update(keys)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclass
class AdminCenter:
    root: Path
    url: str
    service: Service


class HeldRunner(Runner):
    """Runs stop after their first task ends until ``gate`` opens: progress to watch."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.held = threading.Event()

    def run(self, request: Any, cancel: Any, on_start: Any, emit: Any) -> Any:
        def emitting(event: dict[str, Any]) -> None:
            emit(event)
            if event["type"] == "task-end" and not self.held.is_set():
                self.held.set()
                self.gate.wait(30)

        return super().run(request, cancel, on_start, emitting)


@contextmanager
def admin_center(
    root: Path, *, secure_cookies: bool = False, runner: Runner | None = None
) -> Iterator[AdminCenter]:
    """The service of the workspace at ``root`` with the admin center, on a free port;
    the users of USERS with PASSWORD."""
    service = Service(root, runner=runner)
    app = mount_web(build_api(service), service, secure_cookies=secure_cookies)
    users = app.state.web_users
    for name, role in USERS.items():
        if users.find(name) is None:
            users.add(name, role, PASSWORD, actor="test")
    with serve(service, "127.0.0.1", 0, app=app) as running:
        yield AdminCenter(root, running.url, service)
