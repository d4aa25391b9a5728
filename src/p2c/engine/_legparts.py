"""The partitioned reads of a task leg (see ``_partition.py``): a first sync split into
key ranges run elsewhere, and one such range read by the run that is given it. A part of
:class:`~p2c.engine._leg.LegRun`, kept apart to keep each module small."""

from __future__ import annotations

__all__ = ["PartitionedReads"]

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from p2c.connectors import Destination, ReadRequest, Source
from p2c.engine._cancel import RunCancelled
from p2c.engine._cursor import Incremental
from p2c.engine._partition import Partition, Partitioner, furthest, key_range
from p2c.engine._records import Cursor, LegId, LegOutcome
from p2c.odata import Filter
from p2c.templates import Leg
from p2c.workspace import Project, Workspace


class PartitionedReads:
    """What a leg run does with partitions; the rest of the run is ``LegRun``'s."""

    workspace: Workspace
    project: Project
    leg: Leg
    id: LegId
    run_id: int
    task_run_id: int
    label: str
    source_key: tuple[str, ...]
    watermark: str | None
    definition: str
    filter: Filter | None
    partitioner: Partitioner | None
    position: tuple[str, str] | None
    outcome: LegOutcome
    progress: Callable[[str, int], None]

    def _expect(self, total: Callable[[], int | None]) -> None:
        raise NotImplementedError

    def _request(self, where: Filter | None, ordered: bool) -> ReadRequest:
        raise NotImplementedError

    def _read(
        self, source: Source, request: ReadRequest
    ) -> AbstractContextManager[Iterable[tuple[list[Any], Any]]]:
        raise NotImplementedError

    def _process(
        self,
        page: list[Any],
        destination: Destination,
        skip_unchanged: bool,
        cursor: Cursor | None,
    ) -> list[str]:
        raise NotImplementedError

    def _key_request(self) -> ReadRequest:
        return ReadRequest(
            self.leg.source.entity,
            self.source_key,
            (),
            self.filter,
            page_size=self.project.batch_size,
            order_by=self.source_key,
        )

    def _partitioned(self, source: Source, cursor: Incremental) -> bool:
        """Read a first sync as key-range partitions in parallel, when a partitioner is given
        and the source holds enough records. Moves ``cursor`` to the furthest position the
        partitions reached (the caller saves it). False: read it in one pass instead."""
        partitioner = self.partitioner
        if partitioner is None or partitioner.count < 2 or not self.watermark:
            return False
        request = self._key_request()
        total = source.count(request)
        if total is None:
            total = sum(len(page) for page in source.read(request))
        if total < max(partitioner.min_records, partitioner.count):
            return False
        self._expect(lambda: total)
        parts = self._partitions(source, request, total, cursor.started, partitioner.count)
        results = partitioner.run(parts)
        counts = self.outcome.counts
        for result in results:
            for name in ("read", "created", "updated", "unchanged", "skipped", "failed"):
                setattr(counts, name, getattr(counts, name) + getattr(result.counts, name))
            self.outcome.notes.extend(result.notes)
        stopped = next((r.cancelled for r in results if r.cancelled), None)
        if stopped is not None:  # the cursor stays: the next run reads the leg again
            raise RunCancelled(stopped)
        position = furthest(results)
        if position is not None:
            cursor.last_value, cursor.last_key = position
        # The partitions read the whole source: as after a whole read in one pass.
        cursor.pass_left_out(source, self.leg.source.entity)
        self.outcome.notes.append(
            f"first sync of {total:,} records read in {len(parts)} key-range partitions in parallel"
        )
        self.progress(self.label, 0)
        return True

    def _partitions(
        self, source: Source, request: ReadRequest, total: int, started: datetime, count: int
    ) -> list[Partition]:
        """Ranges of about ``total / count`` keys each, bounded by keys the source gave."""
        step = -(-total // count)
        bounds: list[list[Any]] = []
        seen = 0
        for page in source.read(request):
            for record in page:
                if seen and seen % step == 0 and len(bounds) < count - 1:
                    bounds.append([record[k] for k in self.source_key])
                seen += 1
        edges: list[list[Any] | None] = [None, *bounds, None]
        return [
            Partition(
                self.id.project,
                self.id.task,
                self.id.leg,
                self.run_id,
                self.task_run_id,
                index,
                len(edges) - 1,
                edges[index],
                edges[index + 1],
                started.isoformat(),
            )
            for index in range(len(edges) - 1)
        ]

    def _partition_pass(self, source: Source, destination: Destination, part: Partition) -> None:
        """Read one key range of a first sync: lineage and errors batch by batch, never the
        cursor; what an earlier attempt at this range wrote is found unchanged."""
        cursor = Incremental(
            self.watermark,
            self.source_key,
            self.definition,
            lag=timedelta(seconds=self.workspace.config.state.settle_seconds),
            started=datetime.fromisoformat(part.started),
        )
        request = self._request(key_range(self.source_key, part.lower, part.upper), ordered=True)
        with self._read(source, request) as pages:
            for page, _ in pages:
                self._process(page, destination, True, None)
                cursor.advance(page)
        if cursor.last_value:
            self.position = (cursor.last_value, cursor.last_key)
