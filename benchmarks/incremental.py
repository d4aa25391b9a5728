"""Benchmark: an incremental run after 1% of the contacts changed, against the initial run.

Loads N sandbox contacts, runs every project once (the initial run), changes 1% of the
contacts through the sandbox Sales (so their modifiedon moves, as an edit in Sales does),
then runs again and prints both times, the ratio, and what the second run read and wrote.

    .venv/bin/python benchmarks/incremental.py 1000000 [--via-cds] [--track-changes]

With ``--track-changes`` Sales tracks changes of contacts and accounts, so runs follow
delta tokens instead of the ``modifiedon`` cursor.

The loaded data is given time to settle before the initial run (the cursor never passes
records changed in the last ``settle_seconds`` + 1 s before a read), as data that existed
before the integration would be.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from p2c.dynamics import SALES
from p2c.engine import Engine, RunResult, StateStore
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace


def run(folder: Path) -> tuple[float, RunResult]:
    ws = Workspace.open(folder)
    state = StateStore(ws.state_url())
    try:
        started = time.perf_counter()
        result = Engine(ws, state).run(None)
        return time.perf_counter() - started, result
    finally:
        state.close()


def totals(result: RunResult) -> tuple[int, int]:
    read = sum(t.counts.read for t in result.tasks)
    written = sum(t.counts.created + t.counts.updated for t in result.tasks)
    return read, written


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    contacts = int(args[0]) if args else 100_000
    via_cds = "--via-cds" in sys.argv
    folder = Path(tempfile.mkdtemp(prefix="p2c-bench-")) / "ws"
    ws = init_workspace(folder, via_cds=via_cds)
    sales = ws.sales()
    tracked = "--track-changes" in sys.argv
    if tracked:
        for entity in ("contact", "account"):
            sales.changes.enable(SALES.entity(entity))
    sales.load(sample_document(contacts))
    ids = [r["contactid"] for page in sales.query("contacts", ["contactid"]) for r in page]
    sales.close()
    time.sleep(ws.config.state.settle_seconds + 1)

    initial, first = run(folder)
    print(
        f"contacts: {contacts:,} (generation: {'via-cds' if via_cds else 'direct'}; "
        f"{'change tracking' if tracked else 'modifiedon cursor'}); "
        f"initial run: {initial:.1f} s, read {totals(first)[0]:,}, wrote {totals(first)[1]:,}, "
        f"status {first.status}"
    )

    changed = random.Random(1).sample(ids, contacts // 100)
    sales = Workspace.open(folder).sales()
    started = time.perf_counter()
    for n, contact_id in enumerate(changed):
        sales.update("contacts", contact_id, {"jobtitle": f"Changed {n}"})
    sales.close()
    print(f"changed {len(changed):,} contacts in Sales ({time.perf_counter() - started:.1f} s)")

    incremental, second = run(folder)
    read, written = totals(second)
    print(
        f"incremental run: {incremental:.2f} s, read {read:,}, wrote {written:,}, "
        f"status {second.status}"
    )
    print(f"incremental / initial: {incremental / initial:.1%} (target: under 5%)")
    shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main()
