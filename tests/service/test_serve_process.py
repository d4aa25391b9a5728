"""``p2c serve`` as a real process: a schedule of two seconds end to end, SIGTERM in the
middle of a run (Cancelled, lock released, exit 0), SIGKILL in the middle of a run (the
restarted service marks it, the next slot resumes and nothing is lost), a session of the
admin center that outlives a restart."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from service_world import ACCOUNTS, CONTACTS, World, free_port, make_world

from p2c.engine import Engine, RunOptions, StateStore
from p2c.service import AccessStore, ServiceStore
from p2c.web import UserStore
from p2c.workspace import Workspace

PASSWORD = "a-long-test-password"


class Served:
    """A ``p2c serve`` process over a workspace."""

    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.port = free_port()
        hidden = ("P2C_WORKSPACE", "P2C_SESSION_SECRET")
        environment = {k: v for k, v in os.environ.items() if k not in hidden}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "p2c", "serve", "--port", str(self.port), "-w", str(world.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        self._wait(lambda: self._get("/healthz") is not None, "the service to answer")

    def _get(self, path: str) -> Any:
        try:
            answer = self.client.get(path)
        except httpx.TransportError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def _wait(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.process.poll() is not None:
                errors = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"p2c serve ended ({self.process.returncode}): {errors}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def get(self, path: str) -> Any:
        return self._get(path)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        return self._wait(condition, what, timeout)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=60)
        self.client.close()
        return self.process.returncode, out, err


def token_for(world: World) -> str:
    store = ServiceStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        return AccessStore(store.engine).create_token("tests", "operator", actor="test")
    finally:
        store.close()


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
            one.process.communicate(timeout=30)


def test_every_two_seconds_end_to_end_and_a_clean_stop(world: World, served: list[Served]) -> None:
    world.project(ACCOUNTS, schedule={"every": "2s"})
    service = Served(world, token_for(world))
    served.append(service)

    def scheduled_runs() -> list[dict[str, Any]]:
        page = service.get(f"/api/v1/runs?project={quote(ACCOUNTS)}")
        runs = page["runs"] if page else []
        done = [r for r in runs if r["status"] == "Completed" and r["started_by"] == "schedule"]
        return done if len(done) >= 2 else []

    runs = service.wait(scheduled_runs, "two scheduled runs", timeout=30)
    assert runs[-1]["counts"]["read"] == 4  # the first read everything; the next, changes
    second = subprocess.run(
        [sys.executable, "-m", "p2c", "serve", "--port", str(free_port()), "-w", str(world.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 6, second.stderr
    assert "Another p2c serve" in second.stderr
    code, out, _ = service.stop(signal.SIGTERM)
    assert code == 0
    assert "p2c serve: http://127.0.0.1:" in out and "p2c serve stopped." in out


def big_world(tmp_path: Path, schedule: dict[str, Any] | None) -> World:
    """Enough contact persons, written one per batch, that a run takes seconds."""
    world = make_world(tmp_path / "big", contacts=3000)
    ws = Workspace.open(world.root)
    state = StateStore(ws.state_url())
    try:
        assert Engine(ws, state).run([ACCOUNTS]).status == "Completed"
    finally:
        state.close()
    world.project(CONTACTS, batch_size=1, schedule=schedule)
    return world


def contact_persons_written(world: World) -> int:
    with world.state() as db:
        (count,) = db.execute(
            "SELECT count(*) FROM record_lineage JOIN lineage_leg ON lineage_leg.id = leg_id "
            "WHERE project = ?",
            (CONTACTS,),
        ).fetchone()
    return int(count)


def test_sigterm_in_the_middle_of_a_run_cancels_it_releases_the_lock_and_exits_0(
    tmp_path: Path, served: list[Served]
) -> None:
    world = big_world(tmp_path, schedule=None)
    service = Served(world, token_for(world))
    served.append(service)
    answer = service.client.post(f"/api/v1/projects/{quote(CONTACTS)}/runs", json={})
    assert answer.status_code == 202
    run_id = answer.json()["id"]
    service.wait(lambda: contact_persons_written(world) >= 20, "the run to write")
    code, _, _ = service.stop(signal.SIGTERM)
    assert code == 0
    with world.state() as db:
        run = db.execute("SELECT status FROM run WHERE id = ?", (run_id,)).fetchone()
        query = "SELECT status FROM task_run WHERE run_id = ?"
        tasks = [r[0] for r in db.execute(query, (run_id,))]
        locks = db.execute("SELECT count(*) FROM project_lock").fetchone()
    assert run[0] == "Cancelled"
    assert tasks == ["Cancelled"]
    assert locks[0] == 0
    assert 20 <= contact_persons_written(world) < 2700


def test_sigkill_in_the_middle_of_a_run_is_marked_and_the_next_slot_resumes(
    tmp_path: Path, served: list[Served]
) -> None:
    world = big_world(tmp_path, schedule={"every": "2s"})
    token = token_for(world)
    first = Served(world, token)
    served.append(first)
    first.wait(lambda: contact_persons_written(world) >= 20, "the scheduled run to write")
    killed = [r for r in world.runs() if r["projects"] == CONTACTS]
    assert [r["status"] for r in killed] == ["Running"]
    first.stop(signal.SIGKILL)
    written = contact_persons_written(world)
    second = Served(world, token)
    served.append(second)

    def resumed() -> Any:
        runs = [r for r in world.runs() if r["projects"] == CONTACTS]
        return len(runs) >= 2 and runs[1]["status"] not in ("Running",) and runs

    runs = second.wait(resumed, "the next slot's run to end", timeout=120)
    assert runs[0]["status"] == "Error"  # marked: its process is gone
    assert runs[1]["status"] == "Completed"
    detail = second.get(f"/api/v1/runs/{runs[0]['id']}")
    assert "stopped before it finished" in (detail["tasks"][0]["message"] or "")
    assert detail["started_by"] == "schedule"
    assert "stopped before it finished" in (detail["message"] or "")
    code, _, _ = second.stop(signal.SIGTERM)
    assert code == 0
    # Nothing lost, nothing doubled: everything is written, once.
    assert contact_persons_written(world) > written
    ws = Workspace.open(world.root)
    state = StateStore(ws.state_url())
    try:
        check = Engine(ws, state).run([CONTACTS], RunOptions(dry_run=True))
    finally:
        state.close()
    (task,) = check.tasks
    assert task.counts.created == 0 and task.counts.updated == 0
    finops = ws.finops()
    try:
        persons = list(finops.export("CDSContactPersons"))
    finally:
        finops.close()
    keys = [p["ContactPersonPartyNumber"] for p in persons]
    assert len(keys) == len(set(keys)) == contact_persons_written(world)


def test_a_restart_keeps_the_admin_centers_sessions(world: World, served: list[Served]) -> None:
    store = ServiceStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        UserStore(AccessStore(store.engine)).add("alice", "admin", PASSWORD, actor="test")
    finally:
        store.close()
    api_token = token_for(world)
    first = Served(world, api_token)
    served.append(first)
    browser = httpx.Client(base_url=first.client.base_url, timeout=30)
    form = browser.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    signed = browser.post(
        "/sign-in", data={"name": "alice", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert signed.status_code == 303
    assert browser.get("/").status_code == 200
    assert first.stop()[0] == 0

    second = Served(world, api_token)  # a new process (on another port: cookies ignore ports)
    served.append(second)
    again = httpx.Client(base_url=second.client.base_url, cookies=browser.cookies, timeout=30)
    page = again.get("/")
    assert page.status_code == 200, page.headers.get("location")  # not sent to sign in
    assert "alice" in page.text
    key = world.root / ".p2c" / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    browser.close()
    again.close()
