"""Benchmark: sync N sample contacts through the HTTP connectors against the emulator with a
service-protection limit set, and compare the achieved rate with the ceiling the limit allows.

The emulator runs in a child process (its own interpreter, as a real service would be); the
engine runs here with every project pointed at it. F&O is the bottleneck: the limit allows
``requests_per_window`` requests per ``window_seconds``, each carrying up to ``batch_size``
records, so the ceiling is ``batch_size x requests_per_window / window_seconds`` records/s.

    .venv/bin/python benchmarks/http_sync.py 100000 [--rpw 20] [--window 20] [--batch 250]

A sliding window also lets a fresh client send a first full window at once; the stricter
ceiling counts that burst: ``batch_size x requests_per_window x (floor(T / window) + 1) / T``
for a run of T seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from p2c.connectors._http import totals
from p2c.emulator import DEFAULT_SECRET, SECRET_ENV
from p2c.engine import Engine, StateStore
from p2c.sandbox import sample_document
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

SERVER = """
import json, sys
from pathlib import Path
from p2c.emulator import EmulatorSettings, serve
settings = EmulatorSettings(**json.loads(sys.argv[2]))
with serve(Path(sys.argv[1]), settings) as running:
    print(json.dumps({"base_url": running.base_url, "ca_file": str(running.ca_file),
                      "tenant": running.tenant, "client_id": running.client_id,
                      "secret_env": running.secret_env}), flush=True)
    sys.stdin.read()  # until the benchmark closes stdin
    stats = running.stats
    print(json.dumps({"requests": stats.requests, "throttled": stats.throttled,
                      "operations": stats.operations,
                      "services": {k: vars(v) for k, v in stats.services.items()}}), flush=True)
"""


def point_at_emulator(root: Path, server: dict[str, str], args: argparse.Namespace) -> None:
    """Add connection set ``emulator`` to p2c.yaml and name it in every project."""
    path = root / CONFIG_FILE
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    auth = {
        "tenant": server["tenant"],
        "client_id": server["client_id"],
        "client_secret_env": server["secret_env"],
        "authority_host": server["base_url"],
        "ca_file": server["ca_file"],
        "max_concurrency": args.concurrency,
    }
    config["connection_sets"]["emulator"] = {
        "sales": {"type": "dataverse", "url": server["base_url"] + "/sales", **auth},
        "finops": {
            "type": "finops",
            "url": server["base_url"] + "/finops",
            "batch_size": args.batch,
            **auth,
        },
        "organizations": config["connection_sets"]["sandbox"]["organizations"],
    }
    for project in config["projects"]:
        project["connection_set"] = "emulator"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contacts", type=int, nargs="?", default=100_000)
    parser.add_argument("--rpw", type=int, default=20, help="requests per window")
    parser.add_argument("--window", type=float, default=20.0, help="window seconds")
    parser.add_argument("--batch", type=int, default=250, help="records per $batch")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    os.environ.setdefault(SECRET_ENV, DEFAULT_SECRET)  # the emulator's local-only secret
    folder = Path(tempfile.mkdtemp(prefix="p2c-http-bench-")) / "ws"
    ws = init_workspace(folder)
    sales = ws.sales()
    sales.load(sample_document(args.contacts))
    sales.close()
    settings = {"requests_per_window": args.rpw, "window_seconds": args.window}
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(folder), json.dumps(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        server = json.loads(child.stdout.readline())
        point_at_emulator(folder, server, args)
        ws = Workspace.open(folder)
        state = StateStore(ws.state_url())
        started = time.perf_counter()
        result = Engine(ws, state).run(None)
        seconds = time.perf_counter() - started
        state.close()
    finally:
        child.stdin.close()
    emulator = json.loads(child.stdout.readline() or "{}")
    child.wait(timeout=60)

    for task in result.tasks:
        if task.message:
            print(f"{task.project} / {task.task}: {task.status}: {task.message}")
    written = sum(t.counts.created + t.counts.updated for t in result.tasks)
    failed = sum(t.counts.failed for t in result.tasks)
    rate = written / seconds
    ceiling = args.batch * args.rpw / args.window
    client = totals()
    finops = emulator.get("services", {}).get("finops", {})
    print(
        f"contacts: {args.contacts:,}; limit: {args.rpw} requests / {args.window:g} s per "
        f"service; batch_size {args.batch}; max_concurrency {args.concurrency}"
    )
    print(
        f"run: {seconds:.1f} s, status {result.status}; {written:,} records written to F&O, "
        f"{failed} failed"
    )
    print(
        f"achieved: {rate:,.0f} records/s; ceiling: {ceiling:,.0f} records/s "
        f"({args.batch} records/request x {args.rpw} requests / {args.window:g} s) "
        f"= {rate / ceiling:.0%} of the ceiling"
    )
    allowed = args.rpw * (math.floor(seconds / args.window) + 1)
    with_burst = args.batch * allowed / seconds
    print(
        f"stricter ceiling with the first window's burst ({allowed} requests in {seconds:.0f} s): "
        f"{with_burst:,.0f} records/s = {rate / with_burst:.0%} of it"
    )
    print(
        f"429 answers: {client['throttled']:,} (client), "
        f"{emulator.get('throttled', '?')} (emulator, all services); "
        f"requests: {client['requests']:,} (client), F&O service: {finops.get('requests', '?')} "
        f"incl. throttled, {finops.get('operations', '?')} operations"
    )
    shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main()
