"""Benchmark of ``p2c serve``: the scheduler at scale, its idle cost, its memory, the API.

    .venv/bin/python benchmarks/service.py [schedule|idle|memory|api|all]
        [--projects 500] [--minutes 10] [--hour-runner stub|sandbox] [--task-runs 1000000]

- ``schedule``: 500 projects scheduled every minute on the sandbox (real runs, Accounts
  template, one worker) over 10 minutes of simulated clock. Runs take real time but no
  simulated time (the clock waits for them, then jumps to the next slot); prints the slots
  per project (expected: one run per minute, none waited, skipped or doubled) and the real
  time the runs of one minute's slot take (under 60 s: they fit in the minute).
- ``idle``: the same 500 schedules on the real clock for 75 s: the scheduler thread's CPU
  (and the whole process's) while no run is in progress, as a share of one core.
- ``memory``: an hour of simulated schedules (500 projects every minute = 30,000 runs);
  resident memory every 10 simulated minutes. ``--hour-runner stub`` (default) records
  each run in the state database without reading the sandbox, so the hour takes minutes;
  ``sandbox`` runs the engine for real (about half an hour).
- ``api``: a state database with 1,000,000 task runs (333,334 runs), ``p2c serve`` as a
  process, 50 concurrent clients asking ``GET /api/v1/runs`` at random keyset positions;
  latency percentiles (and with the project and status filters).

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from p2c.engine import LegId, StateStore, TaskCounts
from p2c.sandbox import sample_document
from p2c.service import AccessStore, ManualClock, Service, ServiceStore
from p2c.service._runner import Runner, RunReport
from p2c.workspace import CONFIG_FILE, init_workspace

TEMPLATE = "Accounts (Sales to Fin and Ops) - Direct"


def option(name: str, default: str) -> str:
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workspace(projects: int, every: str | None = "1m") -> Path:
    """A sandbox workspace with ``projects`` Accounts projects scheduled ``every`` (not
    scheduled with None)."""
    root = Path(tempfile.mkdtemp(prefix="p2c-bench-service-")) / "ws"
    ws = init_workspace(root)
    sales = ws.sales()
    sales.load(sample_document(40))
    sales.close()
    moment = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(root / "sandbox" / "sales.db") as db:
        for table in ("account", "contact"):
            db.execute(f"UPDATE {table} SET createdon = ?, modifiedon = ?", (moment, moment))
    data = yaml.safe_load((root / CONFIG_FILE).read_text())
    data["state"]["settle_seconds"] = 0.0
    data["projects"] = [
        {"name": f"acc-{n:03d}", "template": TEMPLATE}
        | ({"schedule": {"every": every}} if every else {})
        for n in range(projects)
    ]
    (root / CONFIG_FILE).write_text(yaml.safe_dump(data, sort_keys=False))
    return root


class StubRunner(Runner):
    """Records each run in the state database (a run, a task run) without reading the
    sandbox: the service's side of an hour of runs, in minutes."""

    def run(self, request: Any, cancel: Any, on_start: Any, emit: Any) -> RunReport:
        state = StateStore(self.state_url)
        try:
            run_id = state.start_run(list(request.projects))
            on_start(run_id)
            for project in request.projects:
                task = state.start_task(run_id, LegId(project, "Accounts - Customers", ""))
                emit({"type": "progress", "label": project, "records": 4})
                state.finish_task(task, TaskCounts(read=4, unchanged=4), "Completed")
            state.finish_run(run_id, "Completed")
        finally:
            state.close()
        counts = dict.fromkeys(("read", "created", "updated", "unchanged", "skipped"), 0)
        counts.update(read=4, unchanged=4, failed=0)
        task = {
            "project": request.projects[0],
            "task": "Accounts - Customers",
            "leg": "",
            "status": "Completed",
            "counts": counts,
            "message": None,
        }
        return RunReport(
            run_id, "Completed", request.projects, [task], started_by=request.started_by
        )


def simulate(service: Service, clock: ManualClock, minutes: int, every: int = 10) -> list[str]:
    """Drive the service over ``minutes`` of simulated time. Runs take real time but no
    simulated time: within a simulated second the service is stepped until every run it
    could start has ended; then the clock jumps to the next slot. Returns RSS notes."""
    begin = clock.now()
    end = begin + timedelta(minutes=minutes)
    notes = [f"  0 min: {rss_mb():.1f} MB resident"]
    mark = begin + timedelta(minutes=every)
    while clock.now() < end:
        service.step()
        while service.running() or service.scheduler.startable(service.running()):
            for job in list(service.running().values()):
                job.done.wait(60)
            service.step()
        wake = service.scheduler.next_wake() or end
        clock.set(min(max(wake, clock.now() + timedelta(seconds=1)), end))
        if clock.now() >= mark:
            notes.append(
                f"{round((mark - begin).total_seconds() / 60):3d} min: {rss_mb():.1f} MB resident"
            )
            mark += timedelta(minutes=every)
    return notes


def slot_report(service: Service, projects: int, minutes: int) -> None:
    with service.store.engine.connect() as db:
        rows = db.exec_driver_sql(
            "SELECT project, outcome, count(*), count(DISTINCT slot_at) FROM service_slot "
            "GROUP BY project, outcome"
        ).all()
        statuses = db.exec_driver_sql("SELECT status, count(*) FROM run GROUP BY status").all()
    started = {r[0]: (r[2], r[3]) for r in rows if r[1] == "started"}
    other = [r for r in rows if r[1] != "started"]
    exact = sum(1 for n, distinct in started.values() if n == distinct == minutes)
    print(f"projects with exactly one run per slot ({minutes} slots): {exact} of {projects}")
    print(f"slots waited, skipped or failed: {sum(r[2] for r in other)} {other[:5]}")
    print("runs by status: " + ", ".join(f"{n} {status}" for status, n in statuses))


def bench_schedule(projects: int, minutes: int) -> None:
    root = workspace(projects)
    start = datetime(2030, 1, 7, 9, 0, 1, tzinfo=UTC)
    clock = ManualClock(start)
    service = Service(root, clock=clock, workers=2)
    began = time.perf_counter()
    simulate(service, clock, minutes)
    took = time.perf_counter() - began
    print(
        f"schedule: {projects} projects every minute, {minutes} simulated minutes on the "
        f"sandbox in {took:.0f} s real"
    )
    slot_report(service, projects, minutes)
    service.stop()
    service.close()


def thread_cpu(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def bench_idle(projects: int, seconds: float = 75.0) -> None:
    root = workspace(projects)
    service = Service(root, workers=1)
    service.start()
    thread = service._thread
    assert thread is not None and thread.native_id is not None
    idle_wall = idle_thread = idle_process = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        wall, cpu, process = time.monotonic(), thread_cpu(thread.native_id), time.process_time()
        busy = bool(service.running())
        time.sleep(1.0)
        if busy or service.running():
            continue
        idle_wall += time.monotonic() - wall
        idle_thread += thread_cpu(thread.native_id) - cpu
        idle_process += time.process_time() - process
    service.stop()
    service.close()
    print(f"idle: {projects} projects every minute, {idle_wall:.0f} s idle of {seconds:.0f} s:")
    print(
        f"  scheduler thread {100 * idle_thread / max(idle_wall, 1e-9):.2f}% of one core, "
        f"whole process {100 * idle_process / max(idle_wall, 1e-9):.2f}%"
    )


def bench_memory(projects: int, runner: str) -> None:
    root = workspace(projects)
    clock = ManualClock(datetime(2030, 1, 7, 9, 0, 1, tzinfo=UTC))
    stub = StubRunner(root) if runner == "stub" else None
    service = Service(root, clock=clock, workers=1, runner=stub)
    began = time.perf_counter()
    notes = simulate(service, clock, 60)
    print(
        f"memory: an hour of {projects} projects every minute ({runner} runner, "
        f"{time.perf_counter() - began:.0f} s real):"
    )
    print("\n".join(notes))
    slot_report(service, projects, 60)
    service.stop()
    service.close()


def fill_history(root: Path, task_runs: int) -> None:
    """``task_runs`` task runs (three per run, of 30 projects), straight into SQLite."""
    StateStore(f"sqlite:///{root / 'state.db'}").close()
    ServiceStore(f"sqlite:///{root / 'state.db'}").close()
    rng = random.Random(7)
    statuses = ["Completed"] * 90 + ["Warning"] * 8 + ["Error"] * 2
    started = datetime(2030, 1, 1, tzinfo=UTC)
    with sqlite3.connect(root / "state.db") as db:
        runs: list[Any] = []
        tasks: list[Any] = []
        total = 0
        for run_id in range(1, (task_runs + 2) // 3 + 1):
            moment = (started + timedelta(minutes=run_id)).strftime("%Y-%m-%d %H:%M:%S.%f")
            project = f"acc-{run_id % 30:03d}"
            status = rng.choice(statuses)
            runs.append((run_id, moment, moment, status, project, "incremental"))
            for leg in range(min(3, task_runs - total)):
                total += 1
                tasks.append(
                    (
                        run_id,
                        project,
                        f"task{leg}",
                        "",
                        status,
                        100,
                        1,
                        2,
                        97,
                        0,
                        0 if status == "Completed" else 1,
                        moment,
                        moment,
                    )
                )
            if len(runs) >= 50_000:
                flush(db, runs, tasks)
        flush(db, runs, tasks)
        (count,) = db.execute("SELECT count(*) FROM task_run").fetchone()
    print(f"api: state database with {count:,} task runs")


def flush(db: sqlite3.Connection, runs: list[Any], tasks: list[Any]) -> None:
    db.executemany(
        "INSERT INTO run (id, started_at, finished_at, status, projects, mode) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        runs,
    )
    db.executemany(
        "INSERT INTO task_run (run_id, project, task, leg, status, read, created, updated, "
        "unchanged, skipped, failed, started_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tasks,
    )
    runs.clear()
    tasks.clear()


async def clients(base: str, token: str, paths: list[str], count: int) -> list[float]:
    """``count`` keep-alive HTTP/1.1 connections, each asking its share of ``paths`` one
    after the other; the latency of each answer. A bare asyncio client, so that the
    client's own cost does not count as the server's."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []

    async def one(worker: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for path in paths[worker::count]:
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
                ).encode()
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - began)
                assert head.startswith(b"HTTP/1.1 200"), head
        finally:
            writer.close()

    await asyncio.gather(*(one(w) for w in range(count)))
    return latencies


def percentiles(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p = {
        q: ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000 for q in (50, 95, 99)
    }
    print(
        f"  {name}: {len(ordered)} requests, p50 {p[50]:.1f} ms, p95 {p[95]:.1f} ms, "
        f"p99 {p[99]:.1f} ms, mean {statistics.mean(ordered) * 1000:.1f} ms"
    )


def bench_api(task_runs: int, concurrency: int = 50, requests: int = 2000) -> None:
    root = workspace(30, every=None)  # the API alone: no scheduled runs meanwhile
    fill_history(root, task_runs)
    store = ServiceStore(f"sqlite:///{root / 'state.db'}")
    token = AccessStore(store.engine).create_token("bench", "viewer", actor="bench")
    store.close()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "p2c", "serve", "--port", str(port), "-w", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base)
        top = task_runs // 3
        rng = random.Random(3)
        plans = {
            "GET /api/v1/runs (first page, 50 runs)": ["/api/v1/runs"] * requests,
            "GET /api/v1/runs?before=<random id>": [
                f"/api/v1/runs?before={rng.randrange(2, top)}" for _ in range(requests)
            ],
            "GET /api/v1/runs?project=…&before=<random>": [
                f"/api/v1/runs?project=acc-{rng.randrange(30):03d}&before={rng.randrange(2, top)}"
                for _ in range(requests // 2)
            ],
            "GET /api/v1/runs?status=Error&before=<random>": [
                f"/api/v1/runs?status=Error&before={rng.randrange(2, top)}"
                for _ in range(requests // 2)
            ],
        }
        asyncio.run(clients(base, token, ["/api/v1/runs"] * 100, 10))  # warm up
        print(f"api: {concurrency} concurrent clients, p2c serve as a process")
        for name, paths in plans.items():
            percentiles(name, asyncio.run(clients(base, token, paths, concurrency)))
    finally:
        process.terminate()
        process.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("p2c serve did not start")


def main() -> None:
    which = next((a for a in sys.argv[1:] if not a.startswith("--") and a.isalpha()), "all")
    projects = int(option("--projects", "500"))
    if which in ("schedule", "all"):
        bench_schedule(projects, int(option("--minutes", "10")))
    if which in ("idle", "all"):
        bench_idle(projects)
    if which in ("memory", "all"):
        bench_memory(projects, option("--hour-runner", "stub"))
    if which in ("api", "all"):
        bench_api(int(option("--task-runs", "1000000")))


if __name__ == "__main__":
    main()
