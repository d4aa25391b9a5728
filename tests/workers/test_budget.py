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


def _learnt(client: redis.Redis, budget: RedisBudget) -> dict[str, float]:
    """What the budget learnt of the window (milliseconds), and the probe in flight."""
    quota, span, floor, probe = client.hmget(budget.state, ["quota", "span", "floor", "probe"])
    learnt = {"quota": quota, "span": span, "floor": floor}
    return {k: float(v) for k, v in learnt.items() if v is not None} | {"probe": float(bool(probe))}


def _answered(budget: RedisBudget, pause: float | None = None) -> None:
    """One request on this thread: it passes, or is answered 429 asking for ``pause``."""
    budget.enter()
    if pause is None:
        budget.passed()
    else:
        budget.pause(pause)
    budget.leave()


def test_the_first_429_tells_the_window_to_within_a_second(client: redis.Redis) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    _throttled_round(budget, admitted=3, pause=1.0)
    budget.leave()
    _answered(budget)  # after the pause

    learnt = _learnt(client, budget)
    assert learnt["quota"] == 3  # the requests the server admitted before the pause
    # From the first of them to the end of the pause; Retry-After is rounded up to seconds.
    assert 1000 <= learnt["span"] < 1500
    assert learnt["floor"] == pytest.approx(max(0.0, learnt["span"] - 1000))


def test_past_the_quota_one_probe_goes_three_quarters_up_the_window(client: redis.Redis) -> None:
    one = RedisBudget(client, "app@https://org/api/", 4, 30)
    other = RedisBudget(client, "app@https://org/api/", 4, 30)
    _throttled_round(one, admitted=3, pause=1.0)  # 3 per (a little over) a second
    one.leave()

    # Another worker, after the pause: the 3 go at once, as the limit allows ...
    started = time.monotonic()
    for _ in range(3):
        other.enter()
    assert time.monotonic() - started >= 0.9
    sent = time.monotonic()
    # ... the 4th would meet the window if it is as long as the span: it waits until three
    # quarters of the way from what the window is known to be at least to at most, and
    # probes.
    fourth = _entered(one)
    assert not fourth.wait(0.3)
    assert fourth.wait(3)
    assert time.monotonic() - sent >= 0.6
    assert _learnt(client, one)["probe"] == 1.0


def test_a_probe_that_passes_shortens_the_span_one_throttled_raises_the_floor(
    client: redis.Redis,
) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    _throttled_round(budget, admitted=1, pause=0.6)  # 1 per at most ~0.6 s
    budget.leave()
    span = _learnt(client, budget)["span"]
    _answered(budget)  # after the pause: the one request the window admits

    _answered(budget)  # past the quota: a probe at about 3/4 of the span; it passes
    shorter = _learnt(client, budget)
    assert shorter["span"] < span * 0.85
    assert shorter["probe"] == 0.0

    _answered(budget, pause=0.05)  # the next probe, at 3/4 again, meets the window
    raised = _learnt(client, budget)
    assert raised["span"] == shorter["span"]
    assert shorter["span"] * 0.5 < raised["floor"] < shorter["span"]


def test_once_the_window_is_known_requests_wait_for_room_and_none_probes(
    client: redis.Redis,
) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    # 2 requests per window of 490 to 500 ms: known within 4%.
    client.hset(budget.state, mapping={"quota": 2, "span": 500, "floor": 490})
    started = time.monotonic()
    _answered(budget)
    _answered(budget)

    _answered(budget)  # waits until the first of the two left the window
    assert 0.45 <= time.monotonic() - started < 2
    assert _learnt(client, budget)["probe"] == 0.0


def test_a_429_the_pacing_did_not_foresee_is_learnt_from_again(client: redis.Redis) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    client.hset(budget.state, mapping={"quota": 3, "span": 500, "floor": 490})
    _answered(budget)
    _answered(budget)

    _answered(budget, pause=0.3)  # someone else spends the user's limit too
    _answered(budget)  # after the pause

    learnt = _learnt(client, budget)
    assert learnt["quota"] == 3  # the server admitted 2, but it never shrinks ...
    assert 300 <= learnt["span"] < 800  # ... the span does: from the first to the pause's end


def test_a_probe_that_got_no_answer_does_not_hold_up_the_next(client: redis.Redis) -> None:
    budget = RedisBudget(client, "app@https://org/api/", 4, 30)
    # A probe was sent; its worker died (its slot expired) before any answer came.
    client.hset(budget.state, mapping={"quota": 1, "span": 400, "floor": 0, "probe": "gone"})

    _answered(budget)

    assert _learnt(client, budget)["probe"] == 0.0
