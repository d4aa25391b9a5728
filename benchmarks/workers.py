"""Benchmark: runs on Celery workers against the emulator (its own HTTPS Dataverse and F&O).

1. Scaling: 8 Accounts projects, each on an identity of its own (8 emulated environments,
   each with its own limits), run by 1, 2 and 4 `p2c worker` processes (one run at a time
   each). Throughput in records/s and its ratio to one worker.
2. One identity, two workers: two projects of one environment whose F&O allows
   ``--rpw`` requests per ``--window`` seconds (the ceiling), run in one process (the
   single-process client) and then in parallel on two workers sharing the identity's rate
   budget in Redis. F&O requests admitted per second against the ceiling, and the 429s.

Everything runs on this machine: Redis (Debian's redis-server), the emulators (one child
process), the workers, so the figures depend on its cores (each worker and the emulators
compete for them); the emulator's ``--request-ms`` latency stands for the network and
Dynamics' time per request.

    .venv/bin/python benchmarks/workers.py [--accounts 240] [--shared-accounts 800]
        [--request-ms 40] [--rpw 20] [--window 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from p2c.emulator import DEFAULT_SECRET, SECRET_ENV
from p2c.sandbox import sample_document
from p2c.workspace import CONFIG_FILE, init_workspace

SERVER = """
import json, sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from p2c.emulator import EmulatorSettings, serve
folders, settings = json.loads(sys.argv[1]), EmulatorSettings(**json.loads(sys.argv[2]))
with ExitStack() as stack:
    running = [stack.enter_context(serve(Path(f), settings)) for f in folders]
    print(json.dumps([{"base_url": r.base_url, "ca_file": str(r.ca_file), "tenant": r.tenant,
                       "client_id": r.client_id, "secret_env": r.secret_env} for r in running]),
          flush=True)
    for line in sys.stdin:
        print(json.dumps([{k: vars(v) for k, v in r.stats.services.items()} for r in running]),
              flush=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Emulators:
    """Emulators serving ``folders`` (one environment each) in one child process."""

    def __init__(self, folders: list[Path], settings: dict[str, Any]) -> None:
        self.child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER,
                json.dumps([str(f) for f in folders]),
                json.dumps(settings),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.child.stdout is not None
        self.servers: list[dict[str, str]] = json.loads(self.child.stdout.readline())

    def finops(self) -> tuple[int, int]:
        """F&O requests and 429s so far, over every environment."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write("figures\n")
        self.child.stdin.flush()
        services = json.loads(self.child.stdout.readline())
        requests = sum(s.get("finops", {}).get("requests", 0) for s in services)
        throttled = sum(s.get("finops", {}).get("throttled", 0) for s in services)
        return requests, throttled

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait(timeout=60)


def backend(folder: Path, accounts: int) -> Path:
    """An environment's Sales with ``accounts`` accounts (and an empty F&O)."""
    ws = init_workspace(folder)
    sales = ws.sales()
    sales.load({"accounts": sample_document(accounts * 10)["accounts"]})
    sales.close()
    return folder


def connections(server: dict[str, str], batch: int, concurrency: int) -> dict[str, Any]:
    auth = {
        "tenant": server["tenant"],
        "client_id": server["client_id"],
        "client_secret_env": server["secret_env"],
        "authority_host": server["base_url"],
        "ca_file": server["ca_file"],
        "max_concurrency": concurrency,
    }
    return {
        "sales": {"type": "dataverse", "url": server["base_url"] + "/sales", **auth},
        "finops": {
            "type": "finops",
            "url": server["base_url"] + "/finops",
            "batch_size": batch,
            **auth,
        },
        "organizations": [{"business_unit": "Contoso Sales", "legal_entity": "usmf"}],
    }


def workspace(
    folder: Path, sets: dict[str, dict[str, Any]], projects: list[dict[str, Any]], broker: str
) -> Path:
    init_workspace(folder)
    path = folder / CONFIG_FILE
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["connection_sets"].update(sets)
    config["projects"] = projects
    config["executor"] = {"type": "celery", "broker": broker, "visibility_timeout": 60}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder


def accounts_project(name: str, connection_set: str, where: str | None = None) -> dict[str, Any]:
    project: dict[str, Any] = {
        "name": name,
        "template": "Accounts (Sales to Fin and Ops) - Direct",
        "connection_set": connection_set,
        "batch_size": 1000,
    }
    if where:
        project["tasks"] = {"Accounts - Customers": {"filter": where}}
    return project


def p2c(*args: str) -> list[str]:
    return [sys.executable, "-m", "p2c", *args]


class Workers:
    """``count`` p2c worker processes, stopped with SIGTERM at the end."""

    def __init__(self, root: Path, count: int) -> None:
        self.logs = [root.parent / f"worker-{count}-{n}.log" for n in range(count)]
        self.processes = [
            subprocess.Popen(
                p2c("worker", "--workspace", str(root), "--loglevel", "INFO"),
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            for log in self.logs
        ]
        deadline = time.monotonic() + 60
        while not all("ready." in log.read_text(errors="replace") for log in self.logs):
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start: see " + str(self.logs[0]))
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(60)


def documents(text: str) -> list[dict[str, Any]]:
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) >= 0:
        document, at = decoder.raw_decode(text, start)
        found.append(document)
    return found


def _runs(root: Path, after: int) -> list[tuple[int, str, str]]:
    with sqlite3.connect(root / "state.db") as db:
        return db.execute(
            "SELECT id, started_at, finished_at FROM run WHERE id > ?", (after,)
        ).fetchall()


def _span(runs: list[tuple[int, str, str]]) -> float:
    """Seconds from the first run's start to the last one's end (the engine's own times:
    no process start-up, no queueing)."""
    starts = [datetime.fromisoformat(r[1]) for r in runs]
    ends = [datetime.fromisoformat(r[2]) for r in runs]
    return (max(ends) - min(starts)).total_seconds()


def timed_run(root: Path, *, local: bool = False) -> tuple[float, float, int]:
    """``p2c run --full``: seconds of the command, seconds of the runs, records read."""
    environment = dict(os.environ)
    if local:  # the same workspace run in one process
        path = root / CONFIG_FILE
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["executor"] = {"type": "local"}
        root = root.parent / (root.name + "-local")
        shutil.copytree(path.parent, root, dirs_exist_ok=True)
        (root / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    before = max((r[0] for r in _runs(root, 0)), default=0)
    started = time.perf_counter()
    done = subprocess.run(
        p2c("run", "--full", "--json", "--workspace", str(root)),
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"p2c run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    read = sum(
        t["counts"]["read"] for document in documents(done.stdout) for t in document["tasks"]
    )
    return seconds, _span(_runs(root, before)), read


def _copies(pristine: list[Path], into: Path) -> list[Path]:
    """Fresh copies of the environments: every measurement is a first sync into an empty
    F&O (a second pass would find every record unchanged and write nothing)."""
    return [Path(shutil.copytree(folder, into / folder.name)) for folder in pristine]


def scaling(base: Path, args: argparse.Namespace, broker: str) -> None:
    pristine = [backend(base / "pristine" / f"env{n}", args.accounts) for n in range(8)]
    print(
        f"8 projects x {args.accounts} accounts, each its own identity and environment; "
        f"{args.request_ms:.0f} ms per request, {args.batch} records per $batch"
    )
    first = None
    for count in (1, 2, 4):
        folder = base / f"scaling-{count}"
        emulators = Emulators(
            _copies(pristine, folder), {"latency_ms": args.request_ms, "dop_hint": 4}
        )
        try:
            sets = {
                f"env{n}": connections(server, args.batch, 4)
                for n, server in enumerate(emulators.servers)
            }
            projects = [accounts_project(f"Accounts {n}", f"env{n}") for n in range(8)]
            root = workspace(folder / "ws", sets, projects, broker)
            workers = Workers(root, count)
            try:
                seconds, _, read = timed_run(root)
            finally:
                workers.stop()
        finally:
            emulators.close()
        rate = read / seconds
        first = first or rate
        print(
            f"  {count} worker process(es): {read:,} records in {seconds:.1f} s = "
            f"{rate:,.0f} records/s, x{rate / first:.2f} of one worker"
        )


def shared_identity(base: Path, args: argparse.Namespace, broker: str) -> None:
    pristine = [backend(base / "pristine" / "shared-env", args.shared_accounts * 2)]
    settings = {
        "latency_ms": args.request_ms,
        "dop_hint": 4,
        "requests_per_window": args.rpw,
        "window_seconds": args.window,
    }
    ceiling = args.rpw / args.window
    print(
        f"one identity, F&O ceiling {args.rpw} requests per {args.window:g} s = "
        f"{ceiling:.1f} requests/s; {args.shared_batch} records per $batch"
    )
    for label, local in (("one process (in-process client)", True), ("two workers", False)):
        folder = base / ("shared-local" if local else "shared-workers")
        emulators = Emulators(_copies(pristine, folder), settings)
        try:
            sets = {"shared": connections(emulators.servers[0], args.shared_batch, 4)}
            projects = [
                accounts_project("Accounts A", "shared", "name lt 'Fabrikam 5'"),
                accounts_project("Accounts B", "shared", "name ge 'Fabrikam 5'"),
            ]
            root = workspace(folder / "ws", sets, projects, broker)
            workers = None if local else Workers(root, 2)
            try:
                _, span, read = timed_run(root, local=local)
            finally:
                if workers is not None:
                    workers.stop()
            requests, throttled = emulators.finops()
        finally:
            emulators.close()
        admitted = (requests - throttled) / span
        print(
            f"  {label}: {read:,} records in {span:.1f} s of runs; F&O {admitted:.1f} "
            f"requests/s admitted = {admitted / ceiling:.0%} of the ceiling; "
            f"{throttled} answered 429"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=240, help="accounts per project")
    parser.add_argument(
        "--shared-accounts",
        type=int,
        default=800,
        help="accounts per project on one identity (800: some 18 windows, past the learning)",
    )
    parser.add_argument("--request-ms", type=float, default=40.0)
    parser.add_argument("--batch", type=int, default=10, help="records per $batch (scaling)")
    parser.add_argument("--shared-batch", type=int, default=5, help="records per $batch")
    parser.add_argument("--rpw", type=int, default=20, help="F&O requests per window")
    parser.add_argument("--window", type=float, default=2.0, help="window seconds")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(SECRET_ENV, DEFAULT_SECRET)  # the emulator's local-only secret
    base = Path(tempfile.mkdtemp(prefix="p2c-workers-bench-"))
    port = free_port()
    redis = subprocess.Popen(
        [
            "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        broker = f"redis://127.0.0.1:{port}/0"
        print(f"machine: {os.cpu_count()} cores")
        if not args.skip_scaling:
            scaling(base, args, broker)
        shared_identity(base, args, broker)
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
