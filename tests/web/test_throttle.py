"""Sign-in throttling on a clock the test moves."""

from __future__ import annotations

from p2c.web import SignInThrottle

KEYS = ("name:alice", "ip:10.0.0.5")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_are_free_then_each_waits_longer_up_to_15_minutes() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(4):
        throttle.failed(KEYS)
        assert throttle.wait(KEYS) == 0
    throttle.failed(KEYS)
    assert throttle.wait(KEYS) == 30
    clock.now += 30
    assert throttle.wait(KEYS) == 0
    throttle.failed(KEYS)
    assert throttle.wait(KEYS) == 60
    for _ in range(10):
        throttle.failed(KEYS)
    assert throttle.wait(KEYS) == 15 * 60


def test_a_success_clears_the_name_not_the_address() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(5):
        throttle.failed(KEYS)
    throttle.succeeded("name:alice")
    assert throttle.wait(["name:alice"]) == 0
    assert throttle.wait(["ip:10.0.0.5"]) == 30


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(5):
        throttle.failed(KEYS)
    clock.now += 15 * 60 + 1
    assert throttle.wait(KEYS) == 0
