"""A workspace for service tests: the sandbox with sample data, the upgrade done, and
helpers to give projects schedules and notifications in p2c.yaml."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from p2c.sandbox import sample_document
from p2c.workspace import CONFIG_FILE, init_workspace

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"
PROJECTS = (ACCOUNTS, CONTACTS, CUSTOMERS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def config(self) -> dict[str, Any]:
        data = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return data

    def write(self, data: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = self.config()
        change(data)
        self.write(data)

    def project(self, name: str, **keys: Any) -> None:
        """Set keys of a project in p2c.yaml (None removes a key)."""

        def change(data: dict[str, Any]) -> None:
            for project in data["projects"]:
                if project["name"] == name:
                    for key, value in keys.items():
                        if value is None:
                            project.pop(key, None)
                        else:
                            project[key] = value

        self.edit(change)

    def schedule_all(self, schedule: dict[str, Any]) -> None:
        for name in PROJECTS:
            self.project(name, schedule=schedule)

    def state(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.root / "state.db", timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def runs(self) -> list[sqlite3.Row]:
        with self.state() as db:
            return list(db.execute("SELECT * FROM run ORDER BY id"))

    def backdate_sales(self, hours: int = 1) -> None:
        moment = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with sqlite3.connect(self.root / "sandbox" / "sales.db") as db:
            for table in ("account", "contact", "quote", "salesorder", "invoice"):
                db.execute(f"UPDATE {table} SET createdon = ?, modifiedon = ?", (moment, moment))


def make_world(root: Path, contacts: int = 40) -> World:
    ws = init_workspace(root)
    sales = ws.sales()
    try:
        sales.load(sample_document(contacts))
    finally:
        sales.close()
    world = World(root)
    world.edit(lambda data: data["state"].update(settle_seconds=0.0))
    world.backdate_sales()
    return world


class Receiver:
    """A real HTTP server on loopback that records the JSON posted to it; the first
    ``failures`` posts are answered 500."""

    def __init__(self, failures: int = 0) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.failures = failures
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.bodies.append(body)
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            self.arrived.wait(0.05)
            self.arrived.clear()
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
