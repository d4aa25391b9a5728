"""The service over a real sandbox workspace, driven by a manual clock: due projects run in
prerequisite order, never overlap, run once after downtime, fail to start honestly, pause,
and the threshold alert."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from service_world import ACCOUNTS, CONTACTS, CUSTOMERS, PROJECTS, Receiver, World

from p2c._errors import ConfigError
from p2c.service import ManualClock, Service
from p2c.service._runner import Runner, RunRequest

MINUTE = timedelta(minutes=1)


def slots(service: Service, project: str) -> list[tuple[str, str | None]]:
    return [(s.outcome, s.detail) for s in reversed(service.store.slots(project))]


def turn(service: Service, clock: ManualClock, advance: timedelta = timedelta(0)) -> None:
    """Move the clock, take one turn, and let the runs it started end."""
    clock.advance(advance)
    service.step()
    assert service.wait_idle(60)


def test_due_projects_run_in_prerequisite_order_once_per_slot(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.schedule_all({"every": "1m"})
    service = make_service()  # one run at a time: the sandbox is one SQLite file per system
    turn(service, clock)
    assert world.runs() == []
    turn(service, clock, MINUTE)  # 09:01:20: the 09:01 slot of all three is due
    runs = world.runs()
    assert [r["projects"] for r in runs] == [ACCOUNTS]  # the contacts wait for Accounts
    turn(service, clock)
    turn(service, clock)
    runs = world.runs()
    assert [r["projects"] for r in runs[1:]] == [CONTACTS, CUSTOMERS]
    assert all(r["status"] == "Completed" for r in runs)
    assert set(service.store.started_by(r["id"] for r in runs).values()) == {"schedule"}
    turn(service, clock)
    assert len(world.runs()) == 3  # the slot ran once
    for _ in range(3):
        turn(service, clock, MINUTE if _ == 0 else timedelta(0))
    assert len(world.runs()) == 6
    for project in PROJECTS:
        assert [outcome for outcome, _ in slots(service, project)] == ["started", "started"]


def test_a_restarted_service_continues_and_runs_a_missed_schedule_once(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.project(ACCOUNTS, schedule={"every": "1m"})
    first = make_service()
    turn(first, clock, MINUTE)
    assert len(world.runs()) == 1
    first.stop()
    clock.advance(timedelta(hours=3))  # the service was down for three hours
    second = make_service()
    turn(second, clock)
    turn(second, clock)
    assert len(world.runs()) == 2
    outcome, detail = slots(second, ACCOUNTS)[-1]
    assert outcome == "started"
    assert detail is not None and "180 slots missed" in detail


class GatedRunner(Runner):
    """Runs wait, once started, for the gate to open: a run that is still going."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def run(self, request: Any, cancel: Any, on_start: Any, emit: Any) -> Any:
        def started(run_id: int) -> None:
            on_start(run_id)
            self.entered.set()
            self.gate.wait(30)

        return super().run(request, cancel, started, emit)


def test_a_slot_waits_for_the_previous_run_and_history_says_so(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.project(ACCOUNTS, schedule={"every": "1m"})
    runner = GatedRunner(world.root)
    service = make_service(runner=runner)
    clock.advance(MINUTE)
    service.step()
    assert runner.entered.wait(10)
    clock.advance(MINUTE)
    service.step()  # 09:02 is due while the 09:01 run goes on
    clock.advance(MINUTE)
    service.step()  # 09:03 too, and 09:02 already waits
    assert ACCOUNTS in service.running()
    runner.gate.set()
    assert service.wait_idle(60)
    turn(service, clock)
    assert len(world.runs()) == 2
    history = slots(service, ACCOUNTS)
    assert [outcome for outcome, _ in history] == ["waited", "skipped", "started", "started"]
    assert history[0][1] == "the previous run of this project is still running"
    assert history[1][1] == "a slot of this project already waits"


def test_a_project_that_fails_to_start_is_recorded_error_and_retried_at_its_next_slot(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.project(ACCOUNTS, schedule={"every": "1m"})
    service = make_service()
    # p2c.yaml changed while the service runs, to a project its template cannot have.
    world.project(ACCOUNTS, tasks={"NoSuchTask": {}})
    turn(service, clock, MINUTE)
    runs = world.runs()
    assert [r["status"] for r in runs] == ["Error"]
    with world.state() as db:
        (message,) = db.execute("SELECT message FROM task_run WHERE run_id = ?", (runs[0]["id"],))
    assert "NoSuchTask" in message[0]
    assert slots(service, ACCOUNTS)[-1][0] == "error"
    # p2c.yaml broken while the service runs: schedules stay, runs fail with the reason.
    good = world.config_path.read_text(encoding="utf-8")
    world.config_path.write_text(good + "\n  bad: [\n", encoding="utf-8")
    turn(service, clock, MINUTE)
    runs = world.runs()
    assert [r["status"] for r in runs] == ["Error", "Error"]
    with world.state() as db:
        (message,) = db.execute("SELECT message FROM task_run WHERE run_id = ?", (runs[1]["id"],))
    assert "p2c.yaml" in message[0]
    world.config_path.write_text(good, encoding="utf-8")
    world.project(ACCOUNTS, tasks={})  # fixed
    turn(service, clock, MINUTE)
    assert world.runs()[-1]["status"] == "Completed"


def test_pause_holds_a_schedule_and_resume_lets_it_run(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    world.project(ACCOUNTS, schedule={"every": "1m"})
    world.project(CONTACTS, schedule={"every": "1m", "paused": True})
    service = make_service()
    service.pause(ACCOUNTS, "cli:test")
    turn(service, clock, MINUTE)
    turn(service, clock, MINUTE)
    assert world.runs() == []
    # A command line in another process resumes it: the service sees it at its next turn.
    from p2c.service import ServiceStore

    other = ServiceStore(service.store.url)
    other.set_paused(ACCOUNTS, False, reason=None, actor="cli:someone")
    other.close()
    turn(service, clock)
    assert world.runs() == []  # from its next slot on
    turn(service, clock, MINUTE)
    assert [r["projects"] for r in world.runs()] == [ACCOUNTS]
    with pytest.raises(ConfigError, match=r"paused in p2c\.yaml"):
        service.resume(CONTACTS, "cli:test")
    with pytest.raises(ConfigError, match="has no schedule"):
        service.pause(CUSTOMERS, "cli:test")
    actions = [(e.actor, e.action, e.target) for e in service.access.audit_log()]
    assert ("cli:test", "schedule.pause", ACCOUNTS) in actions


def test_the_threshold_alert_pauses_the_schedule_and_notifies(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    receiver = Receiver()
    try:
        world.project(ACCOUNTS, schedule={"every": "1m"})
        world.project(
            CUSTOMERS,
            schedule={"every": "1m"},
            tasks={"ContactToCustomer": {"map": {"CustomerGroupId": {"default": "99"}}}},
            notify={"on": ["error"], "webhook": receiver.url},
        )
        world.edit(lambda d: d.update(alerts={"pause_after": {"errors": 3, "minutes": 15}}))
        service = make_service()
        turn(service, clock, MINUTE)
        turn(service, clock)
        state = service.scheduler.states[CUSTOMERS]
        assert state.paused and state.paused_by == "alert"
        assert "errors within 15 minutes" in (state.paused_reason or "")
        bodies = receiver.wait(2)
        kinds = sorted(b["kind"] for b in bodies)
        assert kinds == ["paused", "run"]
        run_notice = next(b for b in bodies if b["kind"] == "run")
        assert run_notice["status"] == "Error"
        assert run_notice["errors"] and run_notice["errors"][0]["field"]
        turn(service, clock, MINUTE)
        assert sum(r["projects"] == CUSTOMERS for r in world.runs()) == 1  # held
        service.resume(CUSTOMERS, "api:ops")
        assert not service.scheduler.paused(CUSTOMERS)
        turn(service, clock, MINUTE)
        turn(service, clock)  # after Accounts
        assert sum(r["projects"] == CUSTOMERS for r in world.runs()) == 2
        assert b'p2c_alert_pauses_total{project="' in service.metrics.render()
    finally:
        receiver.close()


def test_stopping_cancels_a_run_between_batches_and_releases_its_lock(
    tmp_path: Any, clock: ManualClock
) -> None:
    from service_world import make_world

    world = make_world(tmp_path / "big", contacts=1500)
    world.project(ACCOUNTS, batch_size=1)
    service = Service(world.root, clock=clock)
    try:
        service.submit(RunRequest((ACCOUNTS,), "test"))
        job = service.running()[ACCOUNTS]
        log = service.events.open(job.key or "")
        while not [e for e in log.since(0)[0] if e["type"] == "progress"]:
            assert not job.done.wait(0.01), "the run ended before it could be cancelled"
        assert service.stop(timeout=30)
    finally:
        service.close()
    assert job.report is not None and job.report.status == "Cancelled"
    (run,) = world.runs()
    assert run["status"] == "Cancelled"
    with world.state() as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM task_run")]
        locks = list(db.execute("SELECT * FROM project_lock"))
    assert statuses == ["Cancelled"]
    assert locks == []


def test_a_run_whose_service_died_is_marked_at_restart(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    from p2c.engine import LegId, StateStore
    from p2c.service import ServiceStore

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    url = f"sqlite:///{world.root / 'state.db'}"
    state = StateStore(url)
    run_id = state.start_run([ACCOUNTS])
    state.start_task(run_id, LegId(ACCOUNTS, "Accounts", ""))
    state.close()
    store = ServiceStore(url)
    store.run_started(run_id, [ACCOUNTS], "schedule", None, clock.now())
    store.engine.dispose()
    with store.engine.begin() as db:  # both written by a process now gone
        db.exec_driver_sql("UPDATE service_run SET pid = ?", (pid,))
        db.exec_driver_sql("UPDATE run SET pid = ?", (pid,))
    store.close()
    service = make_service()
    assert service.recover() == [(run_id, "Error")]
    (run,) = world.runs()
    assert run["status"] == "Error"
    with world.state() as db:
        (message,) = db.execute("SELECT message FROM task_run").fetchone()
    assert f"pid {pid}" in message and "stopped before it finished" in message
    assert service.recover() == []


def test_a_run_left_by_a_predecessor_with_this_very_pid_is_stopped_at_restart(
    world: World, make_service: Callable[..., Service]
) -> None:
    """A container's first process has the same pid after a restart: the engine cannot tell
    its predecessor's run from a live one, the service can (it starts no run before)."""
    from p2c.engine import StateStore

    url = f"sqlite:///{world.root / 'state.db'}"
    state = StateStore(url)
    run_id = state.start_run([ACCOUNTS], started_by="schedule")
    state.close()
    service = make_service()
    service.store.run_started(run_id, [ACCOUNTS], "schedule", None, service.clock.now())
    assert service.recover() == [(run_id, "Error")]
    (run,) = world.runs()
    assert run["status"] == "Error" and "stopped before it finished" in run["message"]


def test_one_scheduler_per_state_database(
    world: World, make_service: Callable[..., Service]
) -> None:
    import os
    import socket

    from p2c._errors import ProjectBusy
    from p2c.service._lease import ServiceLease

    other = ServiceLease(make_service().store.engine)
    other.me = f"{socket.gethostname()}|{os.getppid()}"  # a live process, as another service
    other.take()
    service = make_service()
    with pytest.raises(ProjectBusy, match=f"Another p2c serve \\(process {os.getppid()}"):
        service.start()
    other.release()
    service.start()  # the lease was released
    assert service.running() == {}


def test_the_engine_records_who_started_a_scheduled_run(
    world: World, clock: ManualClock, make_service: Callable[..., Service]
) -> None:
    from p2c.engine import StateStore

    world.project(ACCOUNTS, schedule={"every": "1m"})
    service = make_service()
    turn(service, clock, MINUTE)
    state = StateStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        (run,) = state.runs()
    finally:
        state.close()
    assert run.started_by == "schedule"
    assert run.status == "Completed"
