"""When projects are due: pure scheduling logic over an injectable clock.

The scheduler holds one :class:`ScheduleState` per scheduled project. ``fire(now)`` turns
every slot that came due into a *pending* slot (a slot that came due while one was already
pending is skipped: after downtime a missed schedule runs once, not once per missed slot);
``startable(running)`` says which pending projects may start now: not running already, and
none of their prerequisites pending or running (Accounts before the contacts). Nothing here
sleeps, starts threads or runs projects; the service does, and tests drive it with a
:class:`ManualClock`.
"""

from __future__ import annotations

__all__ = [
    "Clock",
    "Decision",
    "ManualClock",
    "ScheduledProject",
    "Scheduler",
    "SystemClock",
    "next_slot",
    "slots_between",
]

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

from p2c.service._config import Schedule
from p2c.service._store import ScheduleState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNT_CAP = 10_000  # missed slots are counted up to this many, for the message


class Clock(Protocol):
    """Time as the scheduler sees it."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` passed; whether it was set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to: schedules tested without sleeping."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        # Simulated time does not pass by waiting; yield the processor briefly instead.
        return event.wait(0.001)


def next_slot(schedule: Schedule, after: datetime) -> datetime:
    """The first slot of ``schedule`` strictly after ``after`` (aware UTC)."""
    interval = schedule.interval
    if interval is not None:
        elapsed = after.astimezone(UTC) - _EPOCH
        count = elapsed // interval + 1
        return _EPOCH + count * interval
    zone = ZoneInfo(schedule.timezone)
    assert schedule.cron is not None
    moment = croniter(schedule.cron, after.astimezone(zone)).get_next(datetime)
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC)


def slots_between(schedule: Schedule, first: datetime, until: datetime) -> int:
    """How many slots from ``first`` (a slot) to ``until``, both included (capped)."""
    interval = schedule.interval
    if interval is not None:
        return min(_COUNT_CAP, max(0, (until - first) // interval + 1))
    count, moment = 0, first
    while moment <= until and count < _COUNT_CAP:
        count += 1
        moment = next_slot(schedule, moment)
    return count


@dataclass(frozen=True)
class ScheduledProject:
    """A project the scheduler knows: its schedule and its prerequisite projects."""

    name: str
    schedule: Schedule
    requires: frozenset[str] = frozenset()
    order: int = 0  # its place in prerequisite order among all projects


@dataclass(frozen=True)
class Decision:
    """What the scheduler decided about a slot: ``pending`` (it waits to start; ``detail``
    says why, e.g. the previous run still running) or ``skipped`` (another slot of the
    project was already pending)."""

    project: str
    slot_at: datetime
    outcome: str
    detail: str | None = None


class Scheduler:
    """The schedules of a workspace's projects and where each stands.

    Args:
        projects: The scheduled projects (those with a ``schedule``).
        states: Stored states (from the state database); missing ones start now.
        now: The current time, for new or changed schedules.
    """

    def __init__(
        self,
        projects: Iterable[ScheduledProject],
        states: Mapping[str, ScheduleState],
        now: datetime,
    ) -> None:
        self.projects: dict[str, ScheduledProject] = {}
        self.states: dict[str, ScheduleState] = dict(states)
        self.changed: set[str] = set()
        self.sync(projects, now)

    def sync(self, projects: Iterable[ScheduledProject], now: datetime) -> list[str]:
        """Take a new configuration: new or changed schedules start from ``now``; states of
        projects no longer scheduled are returned (to be forgotten)."""
        self.projects = {p.name: p for p in projects}
        for project in self.projects.values():
            definition = project.schedule.describe()
            state = self.states.get(project.name)
            if state is None:
                state = ScheduleState(project.name, definition)
            if state.definition != definition or state.next_due_at is None:
                state = state.with_(
                    definition=definition, next_due_at=next_slot(project.schedule, now)
                )
                self._put(state)
        gone = [name for name in self.states if name not in self.projects]
        for name in gone:
            del self.states[name]
            self.changed.discard(name)
        return gone

    def _put(self, state: ScheduleState) -> None:
        self.states[state.project] = state
        self.changed.add(state.project)

    def take_changes(self) -> list[ScheduleState]:
        """The states changed since the last call (to be written to the database)."""
        changed = [self.states[name] for name in sorted(self.changed) if name in self.states]
        self.changed.clear()
        return changed

    def paused(self, name: str) -> bool:
        state = self.states.get(name)
        project = self.projects.get(name)
        return bool((state and state.paused) or (project and project.schedule.paused))

    def fire(self, now: datetime, running: Iterable[str] = ()) -> list[Decision]:
        """Turn the slots that came due by ``now`` into pending slots."""
        busy = set(running)
        decisions: list[Decision] = []
        for name, project in self.projects.items():
            state = self.states[name]
            due = state.next_due_at
            if due is None or due > now:
                continue
            following = next_slot(project.schedule, now)
            missed = slots_between(project.schedule, due, now)
            if self.paused(name):
                # A paused schedule lets its slots pass; resume starts from the next one.
                self._put(state.with_(next_due_at=following))
                continue
            slot = due
            if missed > 1:  # downtime: the latest missed slot runs, once
                slot = _latest(project.schedule, due, now)
            why = f"{missed} slots missed since {due:%Y-%m-%d %H:%M:%S} UTC" if missed > 1 else None
            if state.pending_slot is not None:
                decisions.append(
                    Decision(name, slot, "skipped", "a slot of this project already waits")
                )
                self._put(state.with_(next_due_at=following))
                continue
            if name in busy:
                why = "the previous run of this project is still running"
            decisions.append(Decision(name, slot, "pending", why))
            self._put(state.with_(next_due_at=following, pending_slot=slot))
        return decisions

    def startable(self, running: Iterable[str]) -> list[str]:
        """Pending projects that may start now, in prerequisite order."""
        busy = set(running)
        pending = {n for n, s in self.states.items() if s.pending_slot is not None}
        ready = [
            name
            for name in pending
            if name in self.projects
            and name not in busy
            and not (self.projects[name].requires & (pending | busy))
            and not self.paused(name)
        ]
        return sorted(ready, key=lambda n: (self.projects[n].order, n))

    def started(self, name: str) -> datetime | None:
        """A pending slot is taken by a run; returns the slot."""
        state = self.states[name]
        self._put(state.with_(pending_slot=None))
        return state.pending_slot

    def next_wake(self) -> datetime | None:
        """The earliest next slot of a schedule that is not paused."""
        dues = [
            s.next_due_at
            for name, s in self.states.items()
            if s.next_due_at is not None and name in self.projects and not self.paused(name)
        ]
        return min(dues, default=None)

    def refresh(self, stored: Mapping[str, ScheduleState]) -> None:
        """Take pause, resume and alert changes made elsewhere (the command line, the API)."""
        for name, theirs in stored.items():
            mine = self.states.get(name)
            if mine is None:
                continue
            if (mine.paused, mine.paused_reason, mine.alert_since) != (
                theirs.paused,
                theirs.paused_reason,
                theirs.alert_since,
            ):
                self.states[name] = mine.with_(
                    paused=theirs.paused,
                    paused_reason=theirs.paused_reason,
                    paused_by=theirs.paused_by,
                    paused_at=theirs.paused_at,
                    alert_since=theirs.alert_since,
                    # A pause drops a waiting slot: paused means nothing starts.
                    pending_slot=None if theirs.paused else mine.pending_slot,
                )
                self.changed.add(name)


def _latest(schedule: Schedule, first: datetime, until: datetime) -> datetime:
    """The latest slot at or before ``until``, starting from the slot ``first``."""
    interval = schedule.interval
    if interval is not None:
        return first + ((until - first) // interval) * interval
    moment = first
    for _ in range(_COUNT_CAP):
        following = next_slot(schedule, moment)
        if following > until:
            break
        moment = following
    return moment
