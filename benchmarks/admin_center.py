"""Benchmark of the admin center: page latency over a large state database.

    .venv/bin/python benchmarks/admin_center.py [sqlite|postgres|all]
        [--task-runs 1000000] [--queued 50000] [--requests 200]

A workspace of 30 projects (Accounts template) whose state database holds ``--task-runs``
task runs (three per run, one run a minute up to now, so the last 45 days and the chart's
14 days are full) and ``--queued`` records in the error queue; on SQLite (the workspace's
file) and on PostgreSQL (a throwaway server from /usr/lib/postgresql/*/bin on a free
loopback port, as the tests start one). ``p2c serve``'s app (API + admin center) runs on
uvicorn on loopback; one signed-in browser-like client asks each page ``--requests`` times
in turn: the dashboard, a project page (tasks and mappings), its Execution history (first
page and a page deep in the 45 days). Prints p50/p95/max per page; the target is p95 under
300 ms. Nothing is asserted.
"""

from __future__ import annotations

import os
import pwd
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import yaml

from p2c.engine import StateStore
from p2c.service import Service, ServiceStore, build_api, serve
from p2c.web import mount_web
from p2c.workspace import CONFIG_FILE, init_workspace

TEMPLATE = "Accounts (Sales to Fin and Ops) - Direct"
PROJECTS = 30
PASSWORD = "benchmark-password"
TARGET_MS = 300.0


def option(name: str, default: str) -> str:
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def workspace(state_url: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="p2c-bench-web-")) / "ws"
    init_workspace(root)
    data = yaml.safe_load((root / CONFIG_FILE).read_text())
    data["projects"] = [
        {"name": f"acc-{n:03d}", "template": TEMPLATE, "schedule": {"every": "1h"}}
        for n in range(PROJECTS)
    ]
    if state_url:
        data["state"]["url"] = state_url
    (root / CONFIG_FILE).write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def history_rows(task_runs: int) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """Runs a minute apart up to now, three task runs each, in chunks."""
    rng = random.Random(7)
    statuses = ["Completed"] * 90 + ["Warning"] * 8 + ["Error"] * 2
    runs = (task_runs + 2) // 3
    first = datetime.now(UTC) - timedelta(minutes=runs + 5)
    total = 0
    chunk: list[Any] = []
    tasks: list[list[Any]] = []
    for run_id in range(1, runs + 1):
        moment = first + timedelta(minutes=run_id)
        project = f"acc-{run_id % PROJECTS:03d}"
        status = rng.choice(statuses)
        chunk.append([run_id, moment, moment + timedelta(seconds=20), status, project])
        for leg in range(min(3, task_runs - total)):
            total += 1
            failed = 0 if status == "Completed" else 1
            tasks.append(
                [run_id, project, f"task{leg}", status, 100, 1, 2, 97 - failed, failed, moment]
            )
        if len(chunk) >= 20_000:
            yield chunk, tasks
            chunk, tasks = [], []
    yield chunk, tasks


def queue_rows(queued: int, last_run: int) -> list[list[Any]]:
    now = datetime.now(UTC)
    return [
        [
            f"acc-{n % PROJECTS:03d}",
            "Accounts - Customers",
            "Source > Destination",
            f"{n:08d}-0000-4000-8000-000000000000",
            f"usmf/ACC-{n:05d}-XXXXXX",
            "CustomerGroupId",
            "The customer group '99' does not exist in usmf.",
            False,
            1,
            last_run,
            last_run,
            now,
        ]
        for n in range(queued)
    ]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: Path, task_runs: int, queued: int) -> None:
    url = f"sqlite:///{path}"
    StateStore(url).close()
    ServiceStore(url).close()
    last = 0
    with sqlite3.connect(path) as db:
        for runs, tasks in history_rows(task_runs):
            db.executemany(
                "INSERT INTO run (id, started_at, finished_at, status, projects, mode, started_by)"
                " VALUES (?, ?, ?, ?, ?, 'incremental', 'schedule')",
                [(r[0], _iso(r[1]), _iso(r[2]), r[3], r[4]) for r in runs],
            )
            db.executemany(
                "INSERT INTO task_run (run_id, project, task, leg, status, read, created, "
                "updated, unchanged, failed, skipped, started_at, finished_at) "
                "VALUES (?, ?, ?, 'Source > Destination', ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [(*t[:9], _iso(t[9]), _iso(t[9] + timedelta(seconds=20))) for t in tasks],
            )
            last = runs[-1][0] if runs else last
        db.executemany(
            "INSERT INTO error_queue (project, task, leg, source_key, destination_key, field, "
            "message, retryable, attempts, first_run_id, last_run_id, failed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*q[:11], _iso(q[11])) for q in queue_rows(queued, last)],
        )
        db.execute("ANALYZE")


def fill_postgres(url: str, dsn: dict[str, Any], task_runs: int, queued: int) -> None:
    StateStore(url).close()
    ServiceStore(url).close()
    last = 0
    with psycopg.connect(**dsn) as db:
        for runs, tasks in history_rows(task_runs):
            with db.cursor().copy(
                "COPY run (id, started_at, finished_at, status, projects, mode, started_by) "
                "FROM STDIN"
            ) as copy:
                for r in runs:
                    copy.write_row([*r, "incremental", "schedule"])
            with db.cursor().copy(
                "COPY task_run (run_id, project, task, leg, status, read, created, updated, "
                "unchanged, failed, skipped, started_at, finished_at) FROM STDIN"
            ) as copy:
                for t in tasks:
                    copy.write_row(
                        [
                            t[0],
                            t[1],
                            t[2],
                            "Source > Destination",
                            *t[3:9],
                            0,
                            t[9],
                            t[9] + timedelta(seconds=20),
                        ]
                    )
            last = runs[-1][0] if runs else last
        with db.cursor().copy(
            "COPY error_queue (project, task, leg, source_key, destination_key, field, message, "
            "retryable, attempts, first_run_id, last_run_id, failed_at) FROM STDIN"
        ) as copy:
            for q in queue_rows(queued, last):
                copy.write_row(q)
        db.execute("SELECT setval(pg_get_serial_sequence('run', 'id'), max(id)) FROM run")
        db.execute("ANALYZE")


# PostgreSQL, throwaway ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres() -> Iterator[int]:
    """A PostgreSQL server on a free loopback port (as user postgres when run as root)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql")
    binaries = versions[-1].parent
    as_root = os.geteuid() == 0
    if as_root:
        pwd.getpwnam("postgres")

    def command(tool: str, *args: str) -> list[str]:
        line = [str(binaries / tool), *args]
        return ["runuser", "-u", "postgres", "--", *line] if as_root else line

    folder = Path(tempfile.mkdtemp(prefix="p2c-bench-pg-"))
    if as_root:
        shutil.chown(folder, user="postgres")
    data, log, port = folder / "data", folder / "server.log", _free_port()
    subprocess.run(
        command(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
        "-c fsync=off -c full_page_writes=off -c shared_buffers=256MB"
    )
    subprocess.run(
        command("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "start"),
        check=True,
        capture_output=True,
    )
    try:
        yield port
    finally:
        subprocess.run(
            command("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


# measuring ------------------------------------------------------------------------------------


def measure(root: Path, label: str, requests: int) -> None:
    service = Service(root)
    app = mount_web(build_api(service), service)
    app.state.web_users.add("bench", "viewer", PASSWORD, actor="bench")
    with (
        serve(service, "127.0.0.1", 0, app=app) as running,
        httpx.Client(base_url=running.url, timeout=60) as client,
    ):
        form = client.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        client.post(
            "/sign-in", data={"name": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        project = quote("acc-007", safe="")
        deep = client.get(f"/projects/{project}/history")
        assert deep.status_code == 200
        rng = random.Random(5)
        runs = (int(option("--task-runs", "1000000")) + 2) // 3
        recent = runs - 40 * 24 * 60  # forty days back: deep in the 45 days
        pages = {
            "dashboard /": lambda: "/",
            "project page /projects/acc-007": lambda: f"/projects/{project}",
            "history, first page": lambda: f"/projects/{project}/history",
            "history, ?before=<random in 45 days>": lambda: (
                f"/projects/{project}/history?before={rng.randrange(recent, runs)}"
            ),
        }
        print(f"{label}: p2c serve on loopback, one signed-in client, {requests} requests a page")
        for name, path in pages.items():
            for _ in range(5):  # warm up
                client.get(path())
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                answer = client.get(path())
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, answer.text[:500]
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            verdict = "ok" if p95 < TARGET_MS else "OVER TARGET"
            print(
                f"  {name:40s} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
                f"max {times[-1]:7.1f} ms  ({verdict}: p95 < {TARGET_MS:.0f} ms)"
            )
    service.close()


def bench_sqlite(task_runs: int, queued: int, requests: int) -> None:
    root = workspace(None)
    began = time.perf_counter()
    fill_sqlite(root / "state.db", task_runs, queued)
    print(
        f"sqlite: {task_runs:,} task runs and {queued:,} queued errors written in "
        f"{time.perf_counter() - began:.0f} s"
    )
    measure(root, "sqlite", requests)


def bench_postgres(task_runs: int, queued: int, requests: int) -> None:
    with postgres() as port:
        dsn = {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres"}
        with psycopg.connect(**dsn, autocommit=True) as db:
            db.execute("CREATE DATABASE p2c_bench")
        dsn["dbname"] = "p2c_bench"
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/p2c_bench"
        root = workspace(url)
        began = time.perf_counter()
        fill_postgres(url, dsn, task_runs, queued)
        print(
            f"postgres: {task_runs:,} task runs and {queued:,} queued errors written in "
            f"{time.perf_counter() - began:.0f} s"
        )
        measure(root, "postgres", requests)


def main() -> None:
    which = next((a for a in sys.argv[1:] if a in ("sqlite", "postgres", "all")), "all")
    task_runs = int(option("--task-runs", "1000000"))
    queued = int(option("--queued", "50000"))
    requests = int(option("--requests", "200"))
    if which in ("sqlite", "all"):
        bench_sqlite(task_runs, queued, requests)
    if which in ("postgres", "all"):
        bench_postgres(task_runs, queued, requests)


if __name__ == "__main__":
    main()
