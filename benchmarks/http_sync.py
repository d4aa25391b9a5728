"""Benchmark: a first sync of N sample contacts through the HTTP connectors against the
emulator, F&O written through OData and through the Data management package API, side by
side; then a rerun after 1% of the contacts changed, with ``write: auto``.

The emulator runs in a child process (its own interpreter, as a real service would be) with
its cost model (``EmulatorSettings``), the engine here with every project pointed at it:

- ``--request-ms``: server time of every request (front end, authentication, routing);
- ``--odata-record-ms``: server time per record an OData write creates or updates (F&O runs
  the entity's business logic record by record);
- ``--package-record-ms``: server time per record of a package import (staging and target
  steps, set-based);
- ``--package-start-ms``: time before an import starts (the batch job picks it up).

The defaults are assumptions (INFERRED, not measured on F&O): a real environment's figures
depend on the entity, its validations and the environment's size. What the benchmark shows
without any assumption is the number of requests per 1,000 records of each path, and that
both leave the same records in F&O.

    .venv/bin/python benchmarks/http_sync.py 100000 [--paths odata,package] [--batch 100]

With ``--rpw``/``--window`` the emulator also limits requests per window (429 with
``Retry-After``); the OData row then shows how close it came to the ceiling that limit allows:
``batch_size x requests_per_window / window_seconds`` records/s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from p2c.connectors._http import totals
from p2c.emulator import DEFAULT_SECRET, SECRET_ENV
from p2c.engine import Engine, RunResult, StateStore
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
    for line in sys.stdin:  # one line asked, one line of figures answered
        stats = running.stats
        print(json.dumps({"requests": stats.requests, "throttled": stats.throttled,
                          "services": {k: vars(v) for k, v in stats.services.items()},
                          "executions": running.job_history()}), flush=True)
"""
_STAMPS = {"createdon", "modifiedon", "createddatetime", "modifieddatetime"}


class Emulator:
    """The emulator in a child process, serving one workspace."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(folder), json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.child.stdout is not None and self.child.stdin is not None
        self.server = json.loads(self.child.stdout.readline())

    def figures(self) -> dict[str, Any]:
        assert self.child.stdout is not None and self.child.stdin is not None
        self.child.stdin.write("figures\n")
        self.child.stdin.flush()
        return dict(json.loads(self.child.stdout.readline()))

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait(timeout=120)


def point_at(root: Path, server: dict[str, str], args: argparse.Namespace, write: str) -> None:
    """Connection set ``emulator`` in p2c.yaml, named in every project; F&O written by
    ``write``."""
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
            "write": write,
            "package_size": args.package_size,
            "package_poll": 1.0,
            **auth,
        },
        "organizations": config["connection_sets"]["sandbox"]["organizations"],
    }
    for project in config["projects"]:
        project["connection_set"] = "emulator"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run(root: Path) -> tuple[float, RunResult]:
    ws = Workspace.open(root)
    state = StateStore(ws.state_url())
    try:
        started = time.perf_counter()
        result = Engine(ws, state).run(None)
        return time.perf_counter() - started, result
    finally:
        state.close()


def finops_requests(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int]:
    """Requests to F&O (its OData face and the blob container) and 429s between two
    readings of the emulator's figures."""
    requests = throttled = 0
    for service in ("finops", "blob"):
        old = before["services"].get(service, {})
        new = after["services"].get(service, {})
        requests += new.get("requests", 0) - old.get("requests", 0)
        throttled += new.get("throttled", 0) - old.get("throttled", 0)
    return requests, throttled


def f_and_o(root: Path) -> tuple[int, str, int]:
    """Records in F&O's customers and contact persons, a digest of their content, and the
    state's lineage rows."""
    ws = Workspace.open(root)
    store = ws.finops()
    digest = hashlib.sha256()
    count = 0
    try:
        for entity in ("CustomersV2", "CDSContactPersons"):
            rows = sorted(
                json.dumps({k: v for k, v in r.items() if k.lower() not in _STAMPS}, sort_keys=True)
                for r in store.export(entity)
            )
            count += len(rows)
            for row in rows:
                digest.update(row.encode())
    finally:
        store.close()
    state = StateStore(ws.state_url())
    try:
        lineage = len(state.lineage())
    finally:
        state.close()
    return count, digest.hexdigest()[:16], lineage


def written(result: RunResult) -> tuple[int, int]:
    done = sum(t.counts.created + t.counts.updated for t in result.tasks)
    return done, sum(t.counts.failed for t in result.tasks)


def first_sync(
    base: Path, write: str, args: argparse.Namespace, settings: dict[str, Any]
) -> tuple[Path, Emulator, dict[str, Any]]:
    folder = base.parent / write
    shutil.copytree(base, folder)
    emulator = Emulator(folder, settings)
    point_at(folder, emulator.server, args, write)
    before, client = emulator.figures(), totals()
    seconds, result = run(folder)
    after = emulator.figures()
    requests, throttled = finops_requests(before, after)
    done, failed = written(result)
    for task in result.tasks:
        if task.message:
            print(f"  {write}: {task.project} / {task.task}: {task.status}: {task.message}")
    return (
        folder,
        emulator,
        {
            "path": write,
            "seconds": seconds,
            "written": done,
            "failed": failed,
            "status": result.status,
            "requests": requests,
            "throttled": throttled,
            "client": totals()["requests"] - client["requests"],
            "executions": len(after["executions"]),
            "store": f_and_o(folder),
        },
    )


def rerun(folder: Path, emulator: Emulator, args: argparse.Namespace, contacts: int) -> None:
    """Change 1% of the contacts in Sales, then run again with ``write: auto``."""
    point_at(folder, emulator.server, args, "auto")
    sales = Workspace.open(folder).sales()
    ids = [r["contactid"] for page in sales.query("contacts", ["contactid"]) for r in page]
    for n, contact_id in enumerate(random.Random(1).sample(ids, max(1, contacts // 100))):
        sales.update("contacts", contact_id, {"jobtitle": f"Changed {n}"})
    sales.close()
    before = emulator.figures()
    seconds, result = run(folder)
    after = emulator.figures()
    requests, _ = finops_requests(before, after)
    done, failed = written(result)
    new = len(after["executions"]) - len(before["executions"])
    print(
        f"rerun after 1% changed (write: auto, package_threshold 10,000): {seconds:.1f} s, "
        f"{done:,} written, {failed} failed; F&O requests {requests:,} "
        f"({requests / max(done, 1) * 1000:.1f} per 1,000 records); new imports: {new} "
        f"({'OData' if new == 0 else 'packages'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contacts", type=int, nargs="?", default=100_000)
    parser.add_argument("--paths", default="odata,package")
    parser.add_argument("--rpw", type=int, default=6000, help="requests per window")
    parser.add_argument("--window", type=float, default=300.0, help="window seconds")
    parser.add_argument("--batch", type=int, default=100, help="records per $batch")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--request-ms", type=float, default=30.0)
    parser.add_argument("--odata-record-ms", type=float, default=10.0)
    parser.add_argument("--package-record-ms", type=float, default=0.5)
    parser.add_argument("--package-start-ms", type=float, default=5000.0)
    parser.add_argument("--package-size", type=int, default=100_000)
    parser.add_argument("--no-rerun", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault(SECRET_ENV, DEFAULT_SECRET)  # the emulator's local-only secret
    base = Path(tempfile.mkdtemp(prefix="p2c-http-bench-")) / "loaded"
    ws = init_workspace(base)
    sales = ws.sales()
    sales.load(sample_document(args.contacts))
    sales.close()
    time.sleep(ws.config.state.settle_seconds + 1)  # data that existed before the integration
    settings = {
        "requests_per_window": args.rpw,
        "window_seconds": args.window,
        "latency_ms": args.request_ms,
        "odata_record_ms": args.odata_record_ms,
        "package_record_ms": args.package_record_ms,
        "package_start_ms": args.package_start_ms,
    }
    print(
        f"contacts: {args.contacts:,}; cost model: {args.request_ms:g} ms a request, "
        f"{args.odata_record_ms:g} ms a record over OData, {args.package_record_ms:g} ms a record "
        f"imported, {args.package_start_ms:g} ms before an import starts; limit "
        f"{args.rpw} requests / {args.window:g} s; batch_size {args.batch}; max_concurrency "
        f"{args.concurrency}; package_size {args.package_size:,}"
    )
    rows = []
    kept: tuple[Path, Emulator] | None = None
    for write in args.paths.split(","):
        folder, emulator, row = first_sync(base, write, args, settings)
        rows.append(row)
        if write == "package" and not args.no_rerun:
            kept = (folder, emulator)
        else:
            emulator.close()
    print(
        f"{'path':8} {'wall s':>8} {'written':>9} {'failed':>6} {'F&O requests':>13} "
        f"{'per 1,000':>9} {'429s':>5} {'imports':>7}  F&O records / content / lineage"
    )
    for row in rows:
        per = row["requests"] / max(row["written"], 1) * 1000
        count, digest, lineage = row["store"]
        print(
            f"{row['path']:8} {row['seconds']:8.1f} {row['written']:9,} {row['failed']:6} "
            f"{row['requests']:13,} {per:9.2f} {row['throttled']:5} {row['executions']:7}  "
            f"{count:,} / {digest} / {lineage:,}"
        )
    for row in rows:
        if row["path"] == "odata":
            rate, ceiling = row["written"] / row["seconds"], args.batch * args.rpw / args.window
            print(
                f"odata: {rate:,.0f} records/s against the ceiling of the request limit, "
                f"{ceiling:,.0f} records/s ({args.batch} a request x {args.rpw} / "
                f"{args.window:g} s) = {rate / ceiling:.0%}"
            )
    if len(rows) > 1:
        first, second = rows[0], rows[1]
        fewer = first["requests"] / max(second["requests"], 1)
        same = first["store"][:2] == second["store"][:2]
        lost = [r["path"] for r in rows if not r["store"][0] == r["store"][2] == r["written"]]
        print(
            f"{second['path']} needs {fewer:.1f}x fewer F&O requests than {first['path']}; "
            f"wall time {first['seconds'] / second['seconds']:.2f}x; F&O contents "
            f"{'identical' if same else 'DIFFERENT'}; records lost or doubled: "
            f"{'none' if not lost else ', '.join(lost)}"
        )
    if kept is not None:
        rerun(kept[0], kept[1], args, args.contacts)
        kept[1].close()
    shutil.rmtree(base.parent)


if __name__ == "__main__":
    main()
