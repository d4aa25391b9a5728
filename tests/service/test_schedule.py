"""Scheduling logic on a manual clock: slots, missed slots, overlap, prerequisite order,
pauses. No sleeping, no threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from p2c._errors import ConfigError
from p2c.service import ManualClock, Schedule, Scheduler, next_slot
from p2c.service._schedule import ScheduledProject
from p2c.workspace import Workspace

T0 = datetime(2030, 1, 7, 9, 0, 20, tzinfo=UTC)


def every(text: str, **more: object) -> Schedule:
    return Schedule.model_validate({"every": text, **more})


def test_every_counts_whole_intervals_in_utc() -> None:
    assert next_slot(every("15m"), T0) == datetime(2030, 1, 7, 9, 15, tzinfo=UTC)
    assert next_slot(every("15m"), datetime(2030, 1, 7, 9, 15, tzinfo=UTC)) == datetime(
        2030, 1, 7, 9, 30, tzinfo=UTC
    )
    assert next_slot(every("2s"), T0) == T0 + timedelta(seconds=2)
    assert next_slot(every("1d"), T0) == datetime(2030, 1, 8, tzinfo=UTC)
    assert every("2h").interval == timedelta(hours=2)
    assert every("1w").interval == timedelta(days=7)


def test_cron_in_a_time_zone_follows_its_summer_time() -> None:
    oslo = Schedule(cron="0 6 * * *", timezone="Europe/Oslo")
    assert next_slot(oslo, datetime(2030, 1, 7, 12, tzinfo=UTC)) == datetime(
        2030, 1, 8, 5, tzinfo=UTC
    )  # UTC+1 in winter
    assert next_slot(oslo, datetime(2030, 7, 7, 12, tzinfo=UTC)) == datetime(
        2030, 7, 8, 4, tzinfo=UTC
    )  # UTC+2 in summer
    two_hourly = Schedule(cron="0 */2 * * *")
    assert next_slot(two_hourly, T0) == datetime(2030, 1, 7, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ({"every": "15"}, "not an interval"),
        ({"every": "0m"}, "not an interval"),
        ({"every": "5y"}, "not an interval"),
        ({"cron": "61 * * * *"}, "not a cron expression"),
        ({"cron": "0 * * * *", "timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"every": "1m", "cron": "* * * * *"}, "not both"),
        ({}, "not both"),
        ({"every": "1m", "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_schedules_are_refused_with_their_line(
    tmp_path: Path, schedule: dict[str, object], says: str
) -> None:
    from service_world import make_world

    world = make_world(tmp_path / "ws", contacts=0)
    world.project("Contacts (Sales to Fin and Ops) - Direct", schedule=schedule)
    with pytest.raises(ConfigError) as raised:
        Workspace.open(world.root)
    assert says in str(raised.value)
    assert "projects.1.schedule" in str(raised.value)


def test_notify_reads_a_bare_yaml_on_key(tmp_path: Path) -> None:
    from service_world import make_world

    world = make_world(tmp_path / "ws", contacts=0)
    text = world.config_path.read_text(encoding="utf-8")
    text = text.replace(
        "  template: Accounts (Sales to Fin and Ops) - Direct\n",
        "  template: Accounts (Sales to Fin and Ops) - Direct\n"
        "  schedule: {every: 15m}\n"
        "  notify: {on: [warning, Error], email: [ops@contoso.com, b@contoso.com],"
        " webhook: 'https://hooks.example/p2c'}\n",
        1,
    )
    text += (
        "notifications: {smtp: {host: smtp.contoso.com, port: 587, starttls: true, "
        "username: p2c, password_env: P2C_SMTP_PASSWORD, sender: p2c@contoso.com}, "
        "link: 'https://p2c.contoso.com/'}\n"
        "alerts: {pause_after: {errors: 10, minutes: 15}}\n"
    )
    world.config_path.write_text(text, encoding="utf-8")
    ws = Workspace.open(world.root)
    project = ws.project("Accounts (Sales to Fin and Ops) - Direct")
    assert project.notify is not None and project.notify.on == ["warning", "error"]
    assert project.notify.email == ["ops@contoso.com", "b@contoso.com"]
    assert ws.config.notifications is not None
    assert ws.config.notifications.link == "https://p2c.contoso.com"
    assert ws.config.alerts is not None and ws.config.alerts.pause_after is not None


def scheduler(*projects: ScheduledProject) -> Scheduler:
    return Scheduler(projects, {}, T0)


A = ScheduledProject("A", every("1m"), frozenset(), 0)
B = ScheduledProject("B", every("1m"), frozenset({"A"}), 1)


def test_a_slot_becomes_pending_once_and_is_taken_by_a_run() -> None:
    s = scheduler(A)
    assert s.states["A"].next_due_at == datetime(2030, 1, 7, 9, 1, tzinfo=UTC)
    assert s.fire(T0) == []
    decisions = s.fire(T0 + timedelta(minutes=1))
    assert [(d.project, d.outcome) for d in decisions] == [("A", "pending")]
    assert s.startable(running=()) == ["A"]
    assert s.started("A") == datetime(2030, 1, 7, 9, 1, tzinfo=UTC)
    assert s.startable(running=()) == []
    assert s.states["A"].next_due_at == datetime(2030, 1, 7, 9, 2, tzinfo=UTC)


def test_after_downtime_a_missed_schedule_runs_once() -> None:
    s = scheduler(A)
    decisions = s.fire(T0 + timedelta(hours=3))
    assert len(decisions) == 1
    assert decisions[0].slot_at == datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    assert "180 slots missed" in (decisions[0].detail or "")
    assert s.fire(T0 + timedelta(hours=3)) == []
    assert s.states["A"].next_due_at == datetime(2030, 1, 7, 12, 1, tzinfo=UTC)


def test_a_slot_while_the_project_runs_waits_and_a_third_is_skipped() -> None:
    s = scheduler(A)
    s.fire(T0 + timedelta(minutes=1))
    s.started("A")
    waited = s.fire(T0 + timedelta(minutes=2), running={"A"})
    assert [(d.outcome, d.detail) for d in waited] == [
        ("pending", "the previous run of this project is still running")
    ]
    assert s.startable(running={"A"}) == []
    skipped = s.fire(T0 + timedelta(minutes=3), running={"A"})
    assert [d.outcome for d in skipped] == ["skipped"]
    assert s.startable(running=()) == ["A"]


def test_prerequisites_start_first() -> None:
    s = scheduler(B, A)
    s.fire(T0 + timedelta(minutes=1))
    assert s.startable(running=()) == ["A"]
    s.started("A")
    assert s.startable(running={"A"}) == []
    assert s.startable(running=()) == ["B"]


def test_paused_schedules_let_slots_pass() -> None:
    paused = ScheduledProject("P", every("1m", paused=True), frozenset(), 0)
    s = scheduler(paused)
    assert s.fire(T0 + timedelta(minutes=5)) == []
    assert s.startable(running=()) == []
    assert s.next_wake() is None


def test_a_changed_schedule_starts_over() -> None:
    s = scheduler(A)
    hourly = ScheduledProject("A", every("1h"), frozenset(), 0)
    s.sync([hourly], T0)
    assert s.states["A"].next_due_at == datetime(2030, 1, 7, 10, tzinfo=UTC)
    assert s.sync([], T0) == ["A"]


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90)
