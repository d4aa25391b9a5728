"""``p2c tokens`` and ``p2c schedule`` as a user runs them (``python -m p2c``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

from service_world import ACCOUNTS, CONTACTS, CUSTOMERS, World

from p2c.service import AccessStore, ServiceStore


def p2c(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("P2C_WORKSPACE", "P2C_DEBUG")}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=environment,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_a_token_is_shown_once_and_only_its_hash_is_kept(world: World) -> None:
    made = p2c("tokens", "create", "grafana", "--role", "viewer", "-w", world.root)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) >= 40 and "\n" not in token
    assert "Shown only this once" in made.stderr
    with world.state() as db:
        rows = list(db.execute("SELECT * FROM service_token"))
    assert len(rows) == 1 and token not in str(tuple(rows[0]))
    store = ServiceStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        info = AccessStore(store.engine).verify(token)
        assert info is not None and info.name == "grafana" and info.role == "viewer"
    finally:
        store.close()
    listed = p2c("tokens", "list", "-w", world.root)
    assert "grafana" in listed.stdout and "viewer" in listed.stdout
    assert token not in listed.stdout
    again = p2c("tokens", "create", "grafana", "-w", world.root)
    assert again.returncode == 2 and "already a token named" in again.stderr
    bad = p2c("tokens", "create", "x", "--role", "root", "-w", world.root)
    assert bad.returncode == 2 and "Unknown role" in bad.stderr
    assert p2c("tokens", "revoke", "grafana", "-w", world.root).returncode == 0
    store = ServiceStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        assert AccessStore(store.engine).verify(token) is None
        actions = [(e.action, e.target) for e in AccessStore(store.engine).audit_log()]
    finally:
        store.close()
    assert actions == [("token.revoke", "grafana"), ("token.create", "grafana")]
    missing = p2c("tokens", "revoke", "grafana", "-w", world.root)
    assert missing.returncode == 2


def test_schedules_listed_paused_and_resumed_from_the_command_line(world: World) -> None:
    world.project(ACCOUNTS, schedule={"every": "15m"})
    world.project(CONTACTS, schedule={"cron": "0 6 * * 1-5", "timezone": "Europe/Oslo"})
    world.project(CUSTOMERS, schedule={"every": "1h", "paused": True})
    listed = p2c("schedule", "--json", "-w", world.root)
    assert listed.returncode == 0, listed.stderr
    rows = {row["project"]: row for row in json.loads(listed.stdout)}
    assert rows[ACCOUNTS]["schedule"] == "every 15m" and rows[ACCOUNTS]["paused"] is False
    assert datetime.fromisoformat(rows[ACCOUNTS]["next_run"]).minute % 15 == 0
    assert rows[CONTACTS]["schedule"] == "cron 0 6 * * 1-5 (Europe/Oslo)"
    assert rows[CUSTOMERS]["paused"] == "p2c.yaml" and rows[CUSTOMERS]["next_run"] is None
    table = p2c("schedule", "-w", world.root, env={"COLUMNS": "80"})
    assert table.returncode == 0 and "every 15m" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    assert p2c("schedule", "pause", ACCOUNTS, "-w", world.root).returncode == 0
    listed = p2c("schedule", "--json", "-w", world.root)
    (accounts,) = [row for row in json.loads(listed.stdout) if row["project"] == ACCOUNTS]
    assert accounts["paused"].startswith("paused by cli:")
    refused = p2c("schedule", "resume", CUSTOMERS, "-w", world.root)
    assert refused.returncode == 2 and "paused in p2c.yaml" in refused.stderr
    assert p2c("schedule", "resume", ACCOUNTS, "-w", world.root).returncode == 0
    unknown = p2c("schedule", "pause", "nope", "-w", world.root)
    assert unknown.returncode == 2 and "no project 'nope'" in unknown.stderr
    store = ServiceStore(f"sqlite:///{world.root / 'state.db'}")
    try:
        state = store.schedules()[ACCOUNTS]
        actions = [e.action for e in AccessStore(store.engine).audit_log()]
    finally:
        store.close()
    assert not state.paused and state.alert_since is not None
    assert state.alert_since <= datetime.now(UTC)
    assert actions == ["schedule.resume", "schedule.pause"]


def test_serving_beyond_loopback_without_tls_warns(world: World) -> None:
    """The port is taken, so it stops at once, after the warning: no server is left."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = p2c("serve", "--host", "0.0.0.0", "--port", port, "-w", world.root)
    assert "without TLS" in done.stderr
    assert done.returncode == 2 and "Cannot listen on 0.0.0.0" in done.stderr
