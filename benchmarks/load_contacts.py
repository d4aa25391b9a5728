"""How fast the sandbox Sales takes a load file: ``p2c sandbox load sales FILE`` without the CLI.

Measures, for a sample document of COUNT contacts (default 100,000; with accounts and the
quotes, orders and invoices that make some contacts active customers):

- JSON parsing of the file (the CLI's first step), on its own;
- ``SalesSandbox.load`` of the parsed document: checks, binds, numbering, flags, insert;
- contacts per second of the load, and the process's peak resident memory.

Usage::

    .venv/bin/python benchmarks/load_contacts.py [COUNT]

Figures are printed, never asserted (DESIGN.md §6).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from p2c.sandbox import SalesSandbox, sample_document


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="contacts to load")
    count = parser.parse_args().count

    with tempfile.TemporaryDirectory(prefix="p2c-bench-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        document = sample_document(count)
        build = time.perf_counter() - started

        file = root / "load.json"
        file.write_text(json.dumps(document), encoding="utf-8")
        size_mib = file.stat().st_size / (1024 * 1024)
        del document

        started = time.perf_counter()
        parsed = json.loads(file.read_text(encoding="utf-8"))
        parse = time.perf_counter() - started

        before_load = _peak_rss_mib()
        sales = SalesSandbox(root / "sales.db", create=True)
        sales.initialize()
        started = time.perf_counter()
        counts = sales.load(parsed)
        load = time.perf_counter() - started
        stored = sales.count("contacts")
        sales.close()

    print(f"contacts:          {count:,} ({', '.join(f'{n:,} {s}' for s, n in counts.items())})")
    print(f"load file:         {size_mib:.1f} MiB (built in {build:.2f} s)")
    print(f"json parse:        {parse:.2f} s")
    print(f"SalesSandbox.load: {load:.2f} s")
    print(f"contacts/second:   {count / load:,.0f} (load only)")
    print(f"                   {count / (load + parse):,.0f} (parse + load)")
    print(f"peak RSS:          {_peak_rss_mib():.0f} MiB ({before_load:.0f} MiB before the load)")
    if stored != count:
        sys.exit(f"expected {count} contacts in Sales, found {stored}")


if __name__ == "__main__":
    main()
