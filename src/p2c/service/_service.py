"""The integration service: the scheduler loop, the runs it starts on worker threads, and
what follows a run (history of the slot, metrics, notifications, the threshold alert).

One :class:`Service` per workspace. ``step()`` is one turn of the loop (reload p2c.yaml if
it changed, take pauses made elsewhere, fire due slots, start what may start), so tests
drive it with a :class:`ManualClock`; ``start()`` runs the loop on a thread of its own.
"""

from __future__ import annotations

__all__ = ["Job", "Service"]

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from p2c._errors import ConfigError, P2CError, ProjectBusy
from p2c.engine import CancelToken
from p2c.service._access import AccessStore
from p2c.service._aftermath import record_slot, run_ended
from p2c.service._events import RunEvents
from p2c.service._history import History
from p2c.service._lease import ServiceLease
from p2c.service._metrics import Metrics, ScheduleFacts
from p2c.service._notify import Notifier
from p2c.service._projects import scheduled_projects
from p2c.service._runner import Runner, RunReport, RunRequest
from p2c.service._schedule import Clock, Decision, Scheduler, SystemClock
from p2c.service._store import ServiceStore, SlotEvent
from p2c.workspace import CONFIG_FILE, Workspace

log = logging.getLogger("p2c.service")
_POLL = 1.0  # seconds between looks at p2c.yaml and at pauses made elsewhere
_API_RUNS = 4  # runs the API may have in flight beyond the scheduler's workers
_DRY_KEPT = 50
_SETTLE = 30.0  # seconds between looks for runs whose process is gone


@dataclass
class Job:
    """A run the service started, while it runs (and a dry run's result after)."""

    request: RunRequest
    cancel: CancelToken = field(default_factory=CancelToken)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    key: str | None = None
    run_id: int | None = None
    report: RunReport | None = None
    error: P2CError | None = None
    why: str | None = None  # the slot's story (waited, missed slots)
    began: float = field(default_factory=time.monotonic)
    buffer: list[dict[str, Any]] = field(default_factory=list)


class Service:
    """The scheduler and the runs of one workspace.

    Args:
        root: The workspace folder.
        clock: Time as the scheduler sees it (a ManualClock in tests).
        workers: Scheduled runs at once.
        runner: The engine adapter (tests may pass their own).
        environ: Where secrets named in p2c.yaml are read (the SMTP password).
        webhook_backoff: Seconds before a failed webhook is tried again (doubling).
    """

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock | None = None,
        workers: int = 1,
        runner: Runner | None = None,
        environ: Mapping[str, str] | None = None,
        webhook_backoff: float = 2.0,
    ) -> None:
        self.ws = Workspace.open(root)
        self.clock: Clock = clock or SystemClock()
        self.workers = workers
        self.store = ServiceStore(self.ws.state_url())
        self.access = AccessStore(self.store.engine)
        self.history = History(self.store.engine)
        self.metrics = Metrics()
        self.notifier = Notifier(
            self.ws.config.notifications, self.metrics, environ=environ, backoff=webhook_backoff
        )
        self.runner = runner or Runner(self.ws.root, self.ws.state_url())
        self.events = RunEvents()
        self.scheduler = Scheduler(
            scheduled_projects(self.ws.config.projects, self.ws.templates),
            self.store.schedules(),
            self.clock.now(),
        )
        self.store.forget(n for n in self.store.schedules() if n not in self.scheduler.projects)
        self.store.save(self.scheduler.take_changes())
        self._mtime = self._config_mtime()
        self._version = self.store.version()
        self._lock = threading.RLock()
        self._running: dict[str, Job] = {}
        self._dry: OrderedDict[str, Job] = OrderedDict()
        self._dry_count = 0
        self._why: dict[str, str] = {}
        self._purged = datetime.min.replace(tzinfo=UTC)
        self._settled = 0.0
        self._executor = ThreadPoolExecutor(workers + _API_RUNS, thread_name_prefix="p2c-run")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.metrics.watch(self._schedule_facts, self.history.queue_size)
        self.lease = ServiceLease(self.store.engine)

    # the loop -------------------------------------------------------------------------------

    def recover(self) -> list[tuple[int, str]]:
        """Mark runs of a previous service process that died mid-run (its locks go too)."""
        self.history.release_locks_of(self.store.host, os.getpid())
        unfinished = self.store.unfinished_runs()
        marked = self.runner.recover(unfinished, self.store.url, self.history.status)
        now = self.clock.now()
        for run_id, status in marked:
            projects = [r.project for r in unfinished if r.run_id == run_id]
            self.store.run_finished(run_id, dict.fromkeys(projects, (status, 0)), now)
            log.warning("Run %d was left by a service that stopped; marked %s", run_id, status)
        return marked

    def start(self) -> None:
        """Take the scheduler's lease, recover, then run the loop on its own thread.

        Raises:
            ProjectBusy: another service schedules this state database.
        """
        self.lease.take()
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="p2c-scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.lease.renew()
                self.step()
            except Exception:  # the loop must outlive any one failure
                log.exception("The scheduler's turn failed; trying again")
            now = self.clock.now()
            wake = self.scheduler.next_wake()
            timeout = _POLL if wake is None else (wake - now).total_seconds()
            self.clock.wait(self._wake, min(_POLL, max(0.0, timeout)))
            self._wake.clear()

    def step(self) -> list[Decision]:
        """One turn: reload p2c.yaml if changed, take pauses, fire due slots, start runs."""
        now = self.clock.now()
        self._reload(now)
        if time.monotonic() - self._settled > _SETTLE:
            # Runs of other processes that are gone (a killed `p2c run`) are marked, so the
            # API never shows them Running.
            self._settled = time.monotonic()
            self.store.state.settle()
        if now - self._purged > timedelta(hours=1):
            self._purged = now
            days = self.ws.config.state.retention_days
            self.store.purge_slots(now - timedelta(days=days))
        version = self.store.version()
        if version != self._version:
            self._version = version
            self.scheduler.refresh(self.store.schedules())
        with self._lock:
            decisions = self.scheduler.fire(now, self._running)
            self._record_decisions(decisions, now)
            scheduled = sum(1 for j in self._jobs() if j.request.started_by == "schedule")
            for name in self.scheduler.startable(self._running):
                if scheduled >= self.workers:
                    break
                slot = self.scheduler.started(name)
                request = RunRequest((name,), "schedule", slot_at=slot)
                job = Job(request, why=self._why.pop(name, None))
                self._launch(job)
                scheduled += 1
            changes = self.scheduler.take_changes()
        self.store.save(changes)
        return decisions

    def _record_decisions(self, decisions: list[Decision], now: datetime) -> None:
        events = []
        for d in decisions:
            if d.outcome == "pending":
                if d.detail:
                    self._why[d.project] = d.detail
                if d.project in self._running:
                    events.append(SlotEvent(d.project, d.slot_at, now, "waited", None, d.detail))
                    self.metrics.slots.labels(d.project, "waited").inc()
            else:
                events.append(SlotEvent(d.project, d.slot_at, now, d.outcome, None, d.detail))
                self.metrics.slots.labels(d.project, d.outcome).inc()
        self.store.add_slots(events)

    def _reload(self, now: datetime) -> None:
        mtime = self._config_mtime()
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            ws = Workspace.open(self.ws.root)
        except P2CError as error:
            log.error("p2c.yaml changed and is not valid; keeping the schedules: %s", error)
            return
        self.ws = ws
        self.notifier.settings = ws.config.notifications or self.notifier.settings
        with self._lock:
            gone = self.scheduler.sync(scheduled_projects(ws.config.projects, ws.templates), now)
        self.store.forget(gone)
        log.info("p2c.yaml reloaded: %d scheduled project(s)", len(self.scheduler.projects))

    def reload(self) -> None:
        """Read p2c.yaml again now if it changed (the admin center saved an edit), instead
        of at the loop's next turn; a file that is not valid keeps the workspace as it was."""
        self._reload(self.clock.now())

    def _config_mtime(self) -> float:
        try:
            return (self.ws.root / CONFIG_FILE).stat().st_mtime
        except OSError:
            return 0.0

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 120.0) -> bool:
        """Stop the loop, cancel the runs in progress (they end Cancelled at their next batch
        and release their locks), wait for them; whether they all ended in time."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            jobs = self._jobs()
            for job in jobs:
                job.cancel.cancel("the service is stopping")
        deadline = time.monotonic() + timeout
        ended = all(job.done.wait(max(0.0, deadline - time.monotonic())) for job in jobs)
        with self._lock:
            changes = self.scheduler.take_changes()
        self.store.save(changes)
        self.notifier.close()
        self._executor.shutdown(wait=ended, cancel_futures=True)
        if self._thread is not None:
            self.lease.release()
        return ended

    def close(self) -> None:
        self.store.close()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no run is in progress (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                jobs = self._jobs()
            if not jobs:
                return True
            for job in jobs:
                job.done.wait(max(0.0, deadline - time.monotonic()))
        return False

    # runs -----------------------------------------------------------------------------------

    def _jobs(self) -> list[Job]:
        return list({id(j): j for j in self._running.values()}.values())

    def running(self) -> dict[str, Job]:
        with self._lock:
            return dict(self._running)

    def _launch(self, job: Job) -> None:
        for project in job.request.projects:
            self._running[project] = job
        self.metrics.running.inc()
        self._executor.submit(self._execute, job)

    def submit(self, request: RunRequest, *, wait: float = 30.0) -> Job:
        """Start a run for the API or a retry; returns once it has an id (or ended).

        Raises:
            ProjectBusy: a project of the request is running (or too many runs are).
        """
        with self._lock:
            busy = [p for p in request.projects if p in self._running]
            if busy:
                job = self._running[busy[0]]
                which = f" (run {job.run_id})" if job.run_id else ""
                raise ProjectBusy(
                    f"Project {busy[0]!r} is running{which}.",
                    record=busy[0],
                    fix="wait for that run to end",
                )
            if sum(1 for j in self._jobs() if j.request.started_by != "schedule") >= _API_RUNS:
                raise ProjectBusy(
                    f"{_API_RUNS} runs asked through the API are in progress.",
                    fix="try again when one has ended",
                )
            job = Job(request)
            if request.dry_run:
                self._dry_count += 1
                job.key = f"dry-{self._dry_count}"
                self._dry[job.key] = job
                while len(self._dry) > _DRY_KEPT:
                    self._dry.popitem(last=False)
                job.started.set()
            self._launch(job)
        job.started.wait(wait)
        if job.error is not None:
            raise job.error
        return job

    def dry_run(self, key: str) -> Job | None:
        with self._lock:
            return self._dry.get(key)

    def _execute(self, job: Job) -> None:
        report: RunReport | None = None
        try:
            report = self.runner.run(
                job.request,
                job.cancel,
                lambda run_id: self._on_start(job, run_id),
                lambda event: self.emit(job, event),
            )
        except ProjectBusy as busy:
            job.error = busy
            record_slot(self, job, "skipped", None, busy.message)
        except Exception as error:  # recorded and logged; the service goes on
            log.exception("A run of %s failed", ", ".join(job.request.projects))
            job.error = P2CError(f"internal error: {type(error).__name__}")
        try:
            if report is not None:
                run_ended(self, job, report)
        except Exception:
            log.exception("After the run of %s", ", ".join(job.request.projects))
        finally:
            with self._lock:
                for project in job.request.projects:
                    if self._running.get(project) is job:
                        del self._running[project]
                self.metrics.running.dec()
            job.report = report
            job.done.set()
            job.started.set()
            self._wake.set()

    def _on_start(self, job: Job, run_id: int) -> None:
        job.run_id = run_id
        job.key = str(run_id)
        request = job.request
        self.store.run_started(
            run_id, request.projects, request.started_by, request.slot_at, self.clock.now()
        )
        log_ = self.events.open(job.key)
        for event in job.buffer:
            log_.add(event)
        job.buffer.clear()
        job.started.set()

    def emit(self, job: Job, event: dict[str, Any]) -> None:
        key = job.key
        if key is None:
            job.buffer.append(event)
        else:
            self.events.open(key).add(event)

    def pause(self, project: str, actor: str, reason: str | None = None) -> None:
        """Hold a project's schedule (the running run, if any, goes on).

        Raises:
            NotFoundError: no such project; ConfigError: it has no schedule.
        """
        self._scheduled(project)
        self.store.set_paused(
            project, True, reason=reason or f"paused by {actor}", actor=actor, at=self.clock.now()
        )
        self.access.audit(actor, "schedule.pause", project, {"reason": reason})
        self._take_pauses()

    def resume(self, project: str, actor: str) -> None:
        """Let a paused schedule run again from its next slot (clears an alert's pause).

        Raises:
            ConfigError: p2c.yaml itself pauses it (``paused: true``).
        """
        schedule = self._scheduled(project)
        if schedule.paused:
            raise ConfigError(
                f"Project {project!r} is paused in p2c.yaml.",
                fix="remove `paused: true` from its schedule in p2c.yaml",
            )
        self.store.set_paused(project, False, reason=None, actor=actor, at=self.clock.now())
        self.access.audit(actor, "schedule.resume", project, {})
        self._take_pauses()

    def _take_pauses(self) -> None:
        with self._lock:
            self._version = self.store.version()
            self.scheduler.refresh(self.store.schedules())
        self._wake.set()

    def _scheduled(self, project: str) -> Any:
        settings = self.ws.project(project)
        if settings.schedule is None:
            raise ConfigError(
                f"Project {project!r} has no schedule.",
                fix="add `schedule: {every: 15m}` to it in p2c.yaml",
            )
        return settings.schedule

    def _schedule_facts(self) -> list[ScheduleFacts]:
        with self._lock:
            return [
                ScheduleFacts(
                    name,
                    self.scheduler.paused(name),
                    s.next_due_at.timestamp() if s.next_due_at else None,
                )
                for name, s in self.scheduler.states.items()
            ]
