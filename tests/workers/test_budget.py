"""The rate budget in Redis: one per identity and service, shared by every worker, driven
by the same signals as the in-process one (x-ms-dop-hint, Retry-After, a probe after it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from workers_world import RedisServer

from p2c.connectors import DataverseConnection, LocalBudget, use_rate_budgets
from p2c.connectors._http import ApiSession
from p2c.workers import RedisBudget, redis_budgets


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    redis_server.flush()
    with redis_server.client() as connection:
        yield connection


def _entered(budget: RedisBudget) -> threading.Event:
    """Enter on a thread of its own; the event is set once the slot is taken."""
    done = threading.Event()

    def enter() -> None:
        budget.enter()
        done.set()

    threading.Thread(target=enter, daemon=True).start()
    return done


def test_two_workers_of_one_identity_share_its_limit(client: redis.Redis) -> None:
    one = RedisBudget(client, "app@https://org/api/", 1, 30)
    other = RedisBudget(client, "app@https://org/api/", 1, 30)
    stranger = RedisBudget(client, "other-app@https://org/api/", 1, 30)
    one.enter()

    waiting = _entered(other)
    stranger.enter()  # another identity has a budget of its own
    assert not waiting.wait(0.3)
    one.leave()

    assert waiting.wait(5)


def test_the_hint_of_one_worker_sets_the_limit_of_all(client: redis.Redis) -> None:
    one = RedisBudget(client, "app@https://org/api/", 4, 30)
    other = RedisBudget(client, "app@https://org/api/", 4, 30)
    one.resize(2)
    other.enter()
    other.enter()

    waiting = _entered(one)
    assert not waiting.wait(0.3)
    other.leave()
    assert waiting.wait(5)


def test_a_429_pauses_every_worker_then_one_request_probes(client: redis.Redis) -> None:
    one = RedisBudget(client, "app@https://org/api/", 4, 30)
    other = RedisBudget(client, "app@https://org/api/", 4, 30)
    one.pause(0.5)
    started = time.monotonic()

    other.enter()  # waits out the pause the other worker was told
    assert time.monotonic() - started >= 0.4
    waiting = _entered(one)  # only the probe goes until it passed
    assert not waiting.wait(0.3)
    other.passed()
    assert waiting.wait(5)


def test_slots_of_a_worker_that_died_come_back(client: redis.Redis) -> None:
    dead = RedisBudget(client, "app@https://org/api/", 1, 0)
    dead.hold_ms = 300  # held at most 0.3 s: its worker never gives it back
    dead.enter()
    alive = RedisBudget(client, "app@https://org/api/", 1, 30)

    assert _entered(alive).wait(5)


def test_sessions_take_their_budget_from_the_installed_factory(
    client: redis.Redis, tmp_path: Path
) -> None:
    connection = DataverseConnection.model_validate(
        {
            "type": "dataverse",
            "url": "https://org.example",
            "tenant": "t",
            "client_id": "app",
            "client_secret_env": "P2C_TEST_SECRET",
        }
    )
    use_rate_budgets(redis_budgets(client))
    try:
        shared = ApiSession(connection, tmp_path, "Sales", "https://org.example/api/data/")
    finally:
        use_rate_budgets(None)
    own = ApiSession(connection, tmp_path, "Sales", "https://org.example/api/data/")
    try:
        assert isinstance(shared.gate, RedisBudget)
        assert isinstance(own.gate, LocalBudget)
        # Keyed by application and API root, never by a secret.
        assert all(b"secret" not in key.lower() for key in client.keys("*"))
    finally:
        shared.close()
        own.close()


def _throttled_round(budget: RedisBudget, admitted: int, pause: float) -> None:
    """A round of requests one after another: ``admitted`` pass, the next one is answered
    429 (the pause is told before its slot is given back, as the sessions do)."""
    for _ in range(admitted):
        budget.enter()
        budget.passed()
        budget.leave()
    budget.enter()
    budget.pause(pause)
    budget.leave()


def test_past_what_the_window_admitted_requests_go_one_at_a_time(client: redis.Redis) -> None:
    one = RedisBudget(client, "app@https://org/api/", 4, 30)
    other = RedisBudget(client, "app@https://org/api/", 4, 30)
    # The window took 3, the 4th met a 429: 3 requests per (a little over) a second.
    _throttled_round(one, admitted=3, pause=1.0)

    # Another worker, next round: the 3 go at once, as the limit allows ...
    started = time.monotonic()
    for _ in range(3):
        other.enter()
    assert time.monotonic() - started >= 0.9  # after the pause
    # ... the 4th waits until it is alone: at most one request meets the full window.
    fourth = _entered(one)
    assert not fourth.wait(0.3)
    other.leave()
    other.leave()
    assert not fourth.wait(0.2)
    other.leave()
    assert fourth.wait(5)


def test_past_the_span_the_full_limit_again(client: redis.Redis) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    _throttled_round(budget, admitted=1, pause=0.2)  # the window took 1 per ~0.2 s
    budget.enter()  # the next request would go alone ...
    time.sleep(0.4)  # ... until this one was sent longer than the span ago

    assert _entered(budget).wait(1)
    assert _entered(budget).wait(1)
