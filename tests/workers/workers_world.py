"""A workspace whose runs go to real `p2c worker` processes, with its broker and state."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from p2c.engine import Engine, RunResult, StateStore
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace

REDIS = Path("/usr/bin/redis-server")
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something true; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")


@dataclass
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()


@contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    """Debian's redis-server on a free loopback port, without persistence."""
    assert REDIS.is_file(), "redis-server is missing: apt-get install redis-server"
    port = free_port()
    server = subprocess.Popen(
        [
            str(REDIS),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        found = RedisServer(port)

        def answers() -> bool:
            try:
                with found.client() as client:
                    return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, "redis-server to answer", 20)
        yield found
    finally:
        server.terminate()
        server.wait(10)


def _ready(log: Path) -> Callable[[], bool]:
    return lambda: "ready." in log.read_text(errors="replace")


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("P2C_WORKSPACE", "P2C_DEBUG")}
    environment["PYTHONIOENCODING"] = "utf-8"
    return environment


def executor_yaml(broker: str, **settings: object) -> str:
    values = {
        "type": "celery",
        "broker": broker,
        "visibility_timeout": 5,
        "heartbeat_seconds": 0.5,
        "stale_after_seconds": 2,
        **settings,
    }
    return "executor: " + json.dumps(values) + "\n"


class World:
    """A workspace of sample data whose state is in PostgreSQL and whose runs go to Celery
    workers through the test's Redis; ``reference()`` copies it before any run, to be run
    in process for comparison. ``renew()`` makes it a fresh workspace at the same folder
    (the workers started for it go on serving it: they read the workspace for each job)."""

    def __init__(self, folder: Path, broker: RedisServer, state_url: str) -> None:
        self.folder = folder
        self.broker = broker
        self.root = folder / "ws"
        self.workers: list[subprocess.Popen[str]] = []
        self.executor: dict[str, object] | None = None
        self._copies = 0
        self._logs_from: dict[Path, int] = {}
        self.renew(state_url)

    def renew(self, state_url: str) -> None:
        """A fresh workspace (sample data not loaded yet) with its state in ``state_url``,
        and the executor settings given to ``use_workers`` before."""
        if self.root.exists():
            shutil.rmtree(self.root)
        init_workspace(self.root)
        self.state_url = state_url
        self._edit(
            lambda text: text.replace("url: sqlite:///state.db", f"url: {state_url}").replace(
                "settle_seconds: 5.0", "settle_seconds: 0.0"
            )
        )
        StateStore(state_url).close()  # the schema, for the tests' queries
        if self.executor is not None:
            self.use_workers(**self.executor)
        self._logs_from = {log: log.stat().st_size for log in self._logs()}

    def _edit(self, change: Callable[[str], str], root: Path | None = None) -> None:
        path = (root or self.root) / "p2c.yaml"
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    def load(self, contacts: int, batch_size: int) -> None:
        """Sample data, last changed an hour ago; every project with ``batch_size``."""
        sales = Workspace.open(self.root).sales()
        sales.load(sample_document(contacts))
        sales.close()
        moment = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with sqlite3.connect(self.root / "sandbox" / "sales.db") as db:
            for table in ("account", "contact", "quote", "salesorder", "invoice"):
                db.execute(f"UPDATE {table} SET createdon = ?, modifiedon = ?", (moment, moment))
        self._edit(lambda text: text.replace("batch_size: 5000", f"batch_size: {batch_size}"))

    def reference(self) -> Path:
        """A copy of the workspace as it is now, run in process with SQLite state."""
        self._copies += 1
        copy = self.folder / f"reference{self._copies}"
        shutil.copytree(self.root, copy)
        self._edit(
            lambda text: text.replace(f"url: {self.state_url}", "url: sqlite:///state.db"), copy
        )
        return copy

    def use_workers(self, **settings: object) -> None:
        self.executor = settings
        self._edit(lambda text: text + executor_yaml(self.broker.url, **settings))

    # processes ----------------------------------------------------------------------------------

    def _logs(self) -> list[Path]:
        return sorted(self.folder.glob("worker*.log"))

    def worker_logs(self) -> str:
        """What the workers logged since the workspace was renewed."""
        text = ""
        for log in self._logs():
            with log.open("rb") as file:
                file.seek(self._logs_from.get(log, 0))
                text += file.read().decode(errors="replace")
        return text

    def start_workers(self, count: int, *args: str) -> list[subprocess.Popen[str]]:
        """``count`` workers started together; returns once every one is ready."""
        started = []
        for _ in range(count):
            log = self.folder / f"worker{len(self.workers) + 1}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "p2c", "worker", "--workspace", str(self.root), *args],
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                env=_environment(),
                text=True,
            )
            self.workers.append(process)
            started.append((log, process))
        for log, _ in started:
            wait_for(_ready(log), f"worker {log.name}")
        return [process for _, process in started]

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        return self.start_workers(1, *args)[0]

    def stop_workers(self) -> None:
        """SIGTERM to every worker still running, and wait for them to end."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def kill_workers(self) -> None:
        """The end of a test that does not test stopping: no need to wait for a graceful
        stop (the broker is emptied and the database dropped after it)."""
        for process in self.workers:
            if process.poll() is None:
                process.kill()
        for process in self.workers:
            process.wait(10)

    def p2c(self, *args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "p2c", *args, "--workspace", str(root or self.root)],
            capture_output=True,
            encoding="utf-8",
            env=_environment(),
            timeout=120,
            check=False,
        )

    def start_p2c(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "p2c", *args, "--workspace", str(self.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            env=_environment(),
        )

    # what came out ------------------------------------------------------------------------------

    def query(self, sql: str, **params: object) -> list[sa.Row[Any]]:
        engine = sa.create_engine(self.state_url)
        try:
            with engine.connect() as db:
                return list(db.execute(sa.text(sql), params).all())
        finally:
            engine.dispose()

    @staticmethod
    def finops(root: Path) -> dict[str, list[dict[str, Any]]]:
        """Every F&O record the integration writes, by entity, in key order."""
        system = Workspace.open(root).finops()
        try:
            return {
                entity: sorted(system.export(entity), key=lambda r: json.dumps(r, sort_keys=True))
                for entity in ("CustomersV2", "CDSContactPersons")
            }
        finally:
            system.close()


def run_in_process(root: Path, projects: list[str] | None = None) -> RunResult:
    ws = Workspace.open(root)
    state = StateStore(ws.state_url())
    try:
        return Engine(ws, state).run(projects)
    finally:
        state.close()
