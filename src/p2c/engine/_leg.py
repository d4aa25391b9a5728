"""One task leg of one run: read the source after the cursor, map, skip what did not change,
upsert, and commit outcomes, lineage, the error queue and the cursor batch by batch.

Pages stream through: memory holds one page at a time, whatever the data size.
"""

from __future__ import annotations

__all__ = ["LegRun"]

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from p2c._rows import RowRecords
from p2c.connectors import Destination, DryRun, ReadRequest, Record, Row, Source
from p2c.dynamics import system_model
from p2c.engine._activity import Deactivation
from p2c.engine._behind import Behind
from p2c.engine._bulk import BulkWrites
from p2c.engine._cursor import CursorProblem, Incremental, definition_digest
from p2c.engine._examples import note_example, note_failures
from p2c.engine._keys import KEYS_PER_READ, key_filter
from p2c.engine._legparts import PartitionedReads
from p2c.engine._mapping import compile_map
from p2c.engine._organization import OrganizationResolver
from p2c.engine._page import Digests, Mapped, RecordPage, RowPage, tally
from p2c.engine._partition import Partition, Partitioner
from p2c.engine._readahead import ReadAhead
from p2c.engine._records import (
    Cursor,
    ErrorRow,
    LegId,
    LegOutcome,
    RunOptions,
    ThresholdExceeded,
    record_label,
)
from p2c.engine._state import StateStore
from p2c.engine._switch import quick_switches
from p2c.odata import Filter, Logical, parse_filter
from p2c.templates import Leg
from p2c.workspace import InactivePolicy, Project, Workspace

Page = TypeVar("Page")
Progress = Callable[[str, int], None]  # (label, records just processed)
Expected = Callable[[str, int | None], None]  # (label, records a pass will read, or None)


def _unmapped(page: list[Any]) -> Mapped | None:
    return None  # records are mapped as they are written: see ``RecordPage``


def _overlapping(pages: Iterable[Page], switches: ExitStack) -> Iterator[Page]:
    """The pages; from the second on, while the threads work at once, with quicker thread
    switches (a read of one page, a small rerun's, gains nothing from them and loses time)."""
    for number, page in enumerate(pages):
        if number == 1:
            switches.enter_context(quick_switches())
        yield page


class LegRun(PartitionedReads):
    """Runs one leg for one run; the result is in ``outcome``."""

    def __init__(
        self,
        workspace: Workspace,
        state: StateStore,
        project: Project,
        task: str,
        leg: Leg,
        options: RunOptions,
        *,
        run_id: int,
        task_run_id: int,
        progress: Progress,
        heartbeat: Callable[[], None],
        expected: Expected | None = None,
        partitioner: Partitioner | None = None,
        partition: Partition | None = None,
    ) -> None:
        self.workspace = workspace
        self.state = state
        self.project = project
        self.leg = leg
        self.options = options
        self.id = LegId(project.name, task, leg.name)
        self.run_id = run_id
        self.task_run_id = task_run_id
        self.progress = progress
        self.heartbeat = heartbeat
        self.expected = expected
        # A dry run writes to a scratch copy of a sandbox destination, and asks any other
        # destination to preview.
        destination = workspace.connection(project.connection_set, leg.destination.system)
        self.preview = options.dry_run and destination.kind.dry_run is DryRun.PREVIEW
        self.outcome = LegOutcome()
        self.never_written = False
        self.label = f"{project.name} / {task}" + (f" / {leg.name}" if leg.name else "")
        self.threshold = project.failure_threshold(task)
        self.policy: InactivePolicy = project.inactive_policy(task)
        self.bulk: BulkWrites | None = None  # units of many pages, where the destination takes them
        self.partitioner = partitioner
        self.partition = partition  # this run reads one key range of a first sync
        self.position: tuple[str, str] | None = None  # where a partition's read got to
        self.rows: RowPage | None = None  # the page in rows, where every record maps alike
        self.behind = Behind()  # the batches' state commits

    def run(self) -> LegOutcome:
        connection_set = self.project.connection_set
        source = self.workspace.source(connection_set, self.leg.source.system)
        destination = self.workspace.destination(connection_set, self.leg.destination.system)
        try:
            self._prepare(source)
            if self.partition is not None:
                self._partition_pass(source, destination, self.partition)
                return self.outcome
            self._open_bulk(destination)
            self._use_rows()
            keys = (self.options.retry_keys or {}).get(self.id)
            if self.options.retry_only:
                if keys:
                    self._retry(source, destination, keys)
                    self._finish_bulk()
            else:
                self._incremental(source, destination)
                self._finish_bulk()
                if not self.options.full and self._may_have_queued():
                    automatic = [
                        q.source_key for q in self.state.queue(leg=self.id, retryable=True)
                    ]
                    if automatic:
                        self._retry(source, destination, automatic)
                        self._finish_bulk()
        except ThresholdExceeded as stop:
            self.outcome.stopped = str(stop)
        finally:
            self.behind.close()
            source.close()
            destination.close()
        return self.outcome

    def _may_have_queued(self) -> bool:
        """Whether the leg may have records in the error queue: ``queued`` follows it where
        this object wrote every page (not in a dry run, a first sync or units)."""
        unfollowed = self.options.dry_run or self.never_written or self.bulk is not None
        return unfollowed or bool(self.queued)

    # preparation --------------------------------------------------------------------------------

    def _prepare(self, source: Source) -> None:
        leg = self.leg
        # What differs per entity (its organization field, what inactive means) is the model's.
        source_entity = system_model(leg.source.system).entity(leg.source.entity)
        destination_entity = system_model(leg.destination.system).entity(leg.destination.entity)
        self.record_name = destination_entity.record_name
        connections = self.workspace.connection_set(self.project.connection_set)
        self.organization = OrganizationResolver(
            connections, self.project, leg, source_entity, destination_entity
        )
        self.compiled = compile_map(leg.map, self.organization.constant)
        self.source_key = source.record_key(leg.source.entity)
        self.watermark = source.watermark(leg.source.entity)
        self.deactivation: Deactivation | None = None
        if self.policy == "deactivate":
            self.deactivation = Deactivation.between(source_entity, destination_entity, leg.map)
        activity = self.deactivation.column if self.deactivation else None
        extra = [c for c in (self.watermark, activity) if c]
        # With one organization mapping every record gets it: no need to read the column.
        organization_column = None if self.organization.single else self.organization.column
        plain = [c for c in [organization_column] if c and "." not in c]
        lookups = [c for c in [organization_column] if c and "." in c]
        self.columns = tuple(
            dict.fromkeys([*self.source_key, *self.compiled.columns, *plain, *extra])
        )
        self.lookups = tuple(dict.fromkeys([*self.compiled.lookups, *lookups]))
        self.filter = parse_filter(leg.source.filter) if leg.source.filter else None
        self.definition = definition_digest(leg, self.policy)
        self.digests = Digests(self.definition.encode()[:64])
        # With one organization mapping its fields are compiled into the map.
        resolve = None if self.organization.single else self.organization.values
        self.records = RecordPage(
            self.compiled.apply, self.digests, self.record_name, resolve, self.deactivation
        )
        # Which source records wait in the error queue: a written one leaves it.
        self.queued = set() if self.options.dry_run else self.state.queued_keys(self.id)

    def _open_bulk(self, destination: Destination) -> None:
        """Write through the destination's bulk writer where it has one (not in a dry run),
        after settling what an earlier run left pending."""
        if self.options.dry_run:
            return
        target = self.leg.destination
        writer = destination.bulk(target.entity, target.key, self.project.name)
        if writer is None:
            return
        self.bulk = BulkWrites(
            writer,
            self.state,
            self.id,
            self._entities,
            run_id=self.run_id,
            task_run_id=self.task_run_id,
            counts=self.outcome.counts,
            queued=self.queued,
            heartbeat=self.heartbeat,
        )
        self.outcome.notes.extend(self.bulk.resume())
        self._check_threshold()

    def _use_rows(self) -> None:
        """Keep pages in rows where every record maps alike (one organization mapping, no
        deactivation rule) and pages are written as they come (not a dry run, no units)."""
        if self.options.dry_run or self.bulk is not None:
            return
        if not self.organization.single or self.deactivation is not None:
            return
        names = ReadRequest(self.leg.source.entity, self.columns, self.lookups).names
        self.rows = RowPage(self.compiled, names, self.source_key, self.digests)

    @contextmanager
    def _read(
        self, source: Source, request: ReadRequest
    ) -> Iterator[Iterator[tuple[list[Any], Mapped | None]]]:
        """A read's pages, read (and in rows, mapped) one page ahead of their writes; every
        batch's commit is done when the block is left, however it is left."""
        rows = self.rows
        pages: ReadAhead[list[Any], Mapped | None]
        if rows is not None:
            pages = ReadAhead(source.read_rows(request), rows.prepare)
        else:
            pages = ReadAhead(source.read(request), _unmapped)
        try:
            with pages, ExitStack() as switches:
                yield _overlapping(pages, switches)
        finally:
            self.behind.wait()

    def _finish_bulk(self) -> None:
        if self.bulk is not None:
            self.bulk.finish()
            self._check_threshold()

    def _check_threshold(self) -> None:
        failed = self.outcome.counts.failed
        if self.threshold is not None and failed > self.threshold:
            raise ThresholdExceeded(
                f"stopped after {failed} failed records, over the task's threshold of "
                f"{self.threshold} (max_failed_records); fix them (`p2c errors`) and run "
                "again: the records not read yet are read next run"
            )

    def _request(self, where: Filter | None, ordered: bool) -> ReadRequest:
        order = (self.watermark, *self.source_key) if ordered and self.watermark else ()
        if self.filter is not None:
            where = self.filter if where is None else Logical("and", self.filter, where)
        return ReadRequest(
            self.leg.source.entity,
            self.columns,
            self.lookups,
            where,
            page_size=self.project.batch_size,
            order_by=order,
        )

    # the passes ---------------------------------------------------------------------------------

    def _incremental(self, source: Source, destination: Destination) -> None:
        entity = self.leg.source.entity
        cursor = Incremental(
            self.watermark,
            self.source_key,
            self.definition,
            lag=timedelta(seconds=self.workspace.config.state.settle_seconds),
            started=datetime.now(UTC),
        )
        note = cursor.resume(None if self.options.full else self.state.cursor(self.id))
        if note:
            self.outcome.notes.append(note)
        skip_unchanged = not self.options.full and self.state.has_lineage(self.id)
        # Nothing of this leg was ever written: every record is new to p2c.
        self.never_written = not self.options.full and not skip_unchanged
        if cursor.delta is not None:
            changes = source.changes(entity, cursor.delta)
            if changes is not None:
                keys = ["/".join(str(v) for v in key) for key in changes.keys]
                self._expect(lambda: len(keys))
                self._read_keys(source, destination, keys, skip_unchanged)
                self._save_delta(cursor.state(changes.token))
                return
        # Change tracking, where the source offers it, starts from the token of now: what
        # changes while this pass reads is in the next run's delta.
        tracking = source.changes(entity, None)
        if self.never_written and not cursor.last_value and self._partitioned(source, cursor):
            self._save_delta(cursor.state(tracking.token if tracking else None))
            return
        where: Filter | None = None
        try:
            where = cursor.where()
        except CursorProblem as problem:
            self.outcome.notes.append(
                f"{problem}; read everything instead and replaced the cursor "
                "(nothing is lost: unchanged records are not written again)"
            )
        request = self._request(where, ordered=True)
        self._expect(lambda: source.count(request))
        with self._read(source, request) as pages:
            for page, mapped in pages:
                records = page if self.rows is None else RowRecords(self.rows.names, page)
                self._process(page, destination, skip_unchanged, cursor.advance(records), mapped)
        if cursor.pass_left_out(source, entity) or tracking is not None:
            self._save_delta(cursor.state(tracking.token if tracking else None))

    def _expect(self, total: Callable[[], int | None]) -> None:
        """Tell the progress display how many records the pass about to start reads (the
        count is asked only when someone listens)."""
        if self.expected is not None:
            self.expected(self.label, total())

    def _save_delta(self, cursor: Cursor) -> None:
        self._finish_bulk()  # the token moves past records only once they are settled
        if not self.options.dry_run:
            self.state.save_cursor(self.run_id, self.id, cursor)

    def _read_keys(
        self, source: Source, destination: Destination, keys: Sequence[str], skip: bool
    ) -> set[str]:
        """Read records by source key (those that still pass the filter) and write them."""
        found: set[str] = set()
        for start in range(0, len(keys), KEYS_PER_READ):
            part = keys[start : start + KEYS_PER_READ]
            request = self._request(key_filter(self.source_key, part), False)
            with self._read(source, request) as pages:
                for page, mapped in pages:
                    found.update(self._process(page, destination, skip, None, mapped))
        return found

    def _retry(self, source: Source, destination: Destination, keys: Sequence[str]) -> None:
        self.never_written = False  # queued records may well exist in the destination
        self._expect(lambda: len(keys))
        found = self._read_keys(source, destination, keys, False)
        gone = [k for k in keys if k not in found]
        if gone:
            self.outcome.notes.append(
                f"{len(gone)} queued record(s) no longer exist or no longer pass the task's "
                "filter; taken off the error queue"
            )
            if not self.options.dry_run:
                self.state.commit_batch(
                    self.run_id, self.task_run_id, self.id, self._entities, [], [], dequeue=gone
                )

    # one page -----------------------------------------------------------------------------------

    @property
    def _entities(self) -> tuple[str, str]:
        return self.leg.source.entity, self.leg.destination.entity

    def _key(self, record: Record) -> str:
        return "/".join([str(record[k]) for k in self.source_key])

    def _process(
        self,
        page: list[Any],
        destination: Destination,
        skip_unchanged: bool,
        cursor: Cursor | None,
        mapped: Mapped | None = None,
    ) -> list[str]:
        """Map (unless read-ahead did), write and commit a page; the source keys of its
        records."""
        counts = self.outcome.counts
        counts.read += len(page)
        if self.rows is not None:
            mapped = mapped or self.rows.prepare(page)
            keys = mapped.keys
            known = self.state.digests(self.id, keys) if skip_unchanged else {}
            batch = RowPage.keep(mapped, known, self.queued, counts)
        else:
            keys = [self._key(r) for r in page]
            known = self.state.digests(self.id, keys) if skip_unchanged else {}
            batch = self.records.map(page, keys, known, self.queued, counts)
        batch_keys, errors, settled = batch.keys, batch.errors, batch.settled
        new: list[bool] | None = None
        if skip_unchanged:
            new = [k not in known for k in batch_keys]
        elif self.never_written:
            new = [True] * len(batch.records)
        if self.bulk is not None:
            self.behind.wait()  # the unit's own state writes come after the batches before
            written, failures, cursor = self.bulk.add(
                batch.records, batch_keys, batch.digests, new or [False] * len(batch_keys), cursor
            )
        else:
            written, failures = self._write(
                destination, batch.records, batch_keys, batch.digests, new
            )
        errors.extend(failures)
        counts.failed += len(errors)
        if self.options.dry_run:
            note_failures(self.outcome.examples, errors)
        else:
            self._commit(errors, written, settled, cursor)
        self.progress(self.label, len(page))
        self._check_threshold()
        return keys

    def _commit(
        self,
        errors: list[ErrorRow],
        written: list[tuple[str, str, str | None]],
        settled: list[str],
        cursor: Cursor | None,
    ) -> None:
        """Hand a written batch's commit to the commit-behind thread; follow the queue."""
        queued = self.queued
        dequeue = [w[0] for w in written if w[0] in queued] + settled if queued else []
        # A partition's counts are its own: the leg's are summed when all are done.
        counts = None if self.partition is not None else replace(self.outcome.counts)

        def commit() -> None:
            self.state.commit_batch(
                self.run_id,
                self.task_run_id,
                self.id,
                self._entities,
                errors,
                written,
                dequeue=dequeue,
                cursor=cursor,
                counts=counts,
            )
            self.heartbeat()

        self.behind.submit(commit)
        if queued:
            queued.difference_update(w[0] for w in written)
            queued.difference_update(settled)
        queued.update(e.source_key for e in errors)

    def _write(
        self,
        destination: Destination,
        batch: list[Any],
        keys: list[str],
        digests: list[str],
        new: list[bool] | None,
    ) -> tuple[list[tuple[str, str, str | None]], list[ErrorRow]]:
        if not batch:
            return [], []
        leg = self.leg.destination
        if self.preview:
            results = destination.preview(leg.entity, leg.key, batch)
        elif self.rows is not None:
            results = destination.upsert_rows(leg.entity, leg.key, self.rows.fields, batch, new=new)
        else:
            results = destination.upsert(leg.entity, leg.key, batch, new=new)
        examples = self.outcome.examples

        def example(index: int, destination_key: str) -> None:
            record = self._record(batch[index])
            label = record_label(destination_key, keys[index], self.record_name(record))
            note_example(examples, results[index].status, label, results[index].changes)

        written, failed = tally(
            results,
            keys,
            digests,
            self.outcome.counts,
            on_written=example if self.options.dry_run else None,
        )
        errors = []
        for index in failed:
            result = results[index]
            errors.append(
                ErrorRow(
                    keys[index],
                    "/".join(map(str, result.key)),
                    result.field,
                    result.message or "rejected",
                    result.retryable,
                    self.record_name(self._record(batch[index])),
                )
            )
        return written, errors

    def _record(self, record: Record | Row) -> Record:
        """A mapped record, also where the page is in rows."""
        if isinstance(record, dict):
            return record
        assert self.rows is not None
        return self.rows.record(record)
