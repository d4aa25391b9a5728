"""What the ``@odata.etag`` of every record costs the emulator's Dataverse face.

Loads COUNT sample contacts (default 5,000) into a workspace, serves it, and reads one page
of them (``GET contacts?$select=lastname`` with ``Prefer: odata.maxpagesize=COUNT``) REPEAT
times, in two ways in one process:

- as served: every record with its ETag, the row version (``versionnumber``, one column);
- the former ETag: a digest of every stored column, so every column is read;
- no ETag: the ETag step taken out and only the selected columns read, the floor.

The differences are what each way of making the ETag costs a page. Figures are printed,
never asserted.

Usage::

    .venv/bin/python benchmarks/emulator_etag.py [COUNT] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from p2c.emulator import DEFAULT_SECRET, EmulatorSettings, RunningEmulator, serve
from p2c.emulator import _dataverse_query as dataverse_query
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace


def _workspace(folder: Path, count: int) -> Path:
    root = folder / "ws"
    init_workspace(root, via_cds=True)
    sales = Workspace.open(root).sales()
    sales.load(sample_document(count))
    sales.close()
    return root


def _token(running: RunningEmulator, client: httpx.Client) -> str:
    answer = client.post(
        f"{running.base_url}/{running.tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": running.client_id,
            "client_secret": DEFAULT_SECRET,
            "scope": f"{running.url('sales')}/.default",
        },
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


@contextmanager
def _etags(way: str) -> Iterator[None]:
    """The read plan with another ETag: ``none`` (no ETag step, the selected columns only)
    or ``digest`` (the former ETag: a CRC of every stored column, all of them read)."""
    plan, step = dataverse_query.plan, dataverse_query._etag_step
    if way == "row version":
        yield
        return

    def changed(call: Any, entity: Any, visible_of: Any) -> Any:
        columns, shape, context = plan(call, entity, visible_of)
        columns = [c for c in columns if c != "versionnumber"]
        if way == "digest":
            stored = [c for c in entity.columns if c.removesuffix("type") in visible_of(entity)]
            columns = list(dict.fromkeys([*columns, *stored]))
            dataverse_query._etag_step = _digest_step(stored)  # type: ignore[assignment]
        return columns, shape, context

    dataverse_query._etag_step = lambda row, record: None
    dataverse_query.plan = changed
    try:
        yield
    finally:
        dataverse_query._etag_step = step
        dataverse_query.plan = plan


def _digest_step(stored: list[str]) -> Callable[[Any, Any], None]:
    def step(row: Any, record: Any) -> None:
        digest = zlib.crc32(repr(tuple(row.get(n) for n in stored)).encode())
        record["@odata.etag"] = f'W/"{digest}"'

    return step


def _time_pages(client: httpx.Client, url: str, headers: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(url, params={"$select": "lastname"}, headers=headers)
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=5000, help="contacts in the page")
    parser.add_argument("--repeat", type=int, default=15, help="reads of the page per way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = _workspace(Path(folder), args.count)
        settings = EmulatorSettings(page_size_max=max(5000, args.count))
        with (
            serve(root, settings) as running,
            httpx.Client(verify=str(running.ca_file), timeout=120) as client,
        ):
            headers = {
                "Authorization": f"Bearer {_token(running, client)}",
                "Prefer": f"odata.maxpagesize={args.count}",
            }
            url = f"{running.url('sales')}/api/data/v9.2/contacts"
            page = client.get(url, params={"$select": "lastname"}, headers=headers).json()
            assert len(page["value"]) == args.count and "@odata.etag" in page["value"][0]
            _time_pages(client, url, headers, 2)  # warm the caches
            # Interleaved, one read of each way in turn, so that the load of a shared
            # machine falls on all three alike.
            samples: dict[str, list[float]] = {w: [] for w in ("row version", "digest", "none")}
            for _ in range(args.repeat):
                for way, readings in samples.items():
                    with _etags(way):
                        readings.append(_time_pages(client, url, headers, 1))
            times = {way: statistics.median(readings) for way, readings in samples.items()}
    floor = times["none"]
    print(f"page of {args.count:,} contacts ($select=lastname), median of {args.repeat} reads:")
    for label, way in (
        ("ETag = row version (as served)", "row version"),
        ("ETag = digest of the whole row", "digest"),
        ("no ETag (floor)", "none"),
    ):
        extra = (times[way] - floor) * 1000
        over = f"+{extra:6.1f} ms over the floor" if way != "none" else ""
        print(f"  {label:32s} {times[way] * 1000:8.1f} ms  {over}")


if __name__ == "__main__":
    main()
