"""Commit-behind: work runs one piece at a time, in order, on a thread of its own; the
caller hears of a failure at its next submit or wait."""

from __future__ import annotations

import threading
import time

import pytest

from p2c.engine._behind import Behind


def test_work_runs_in_order_one_at_a_time_on_another_thread() -> None:
    done: list[tuple[int, str]] = []
    running = threading.Lock()
    behind = Behind()

    def work(n: int) -> None:
        assert running.acquire(blocking=False), "two pieces of work at once"
        time.sleep(0.01)
        done.append((n, threading.current_thread().name))
        running.release()

    for n in range(5):
        behind.submit(lambda n=n: work(n))  # type: ignore[misc]
        assert [d[0] for d in done] == list(range(n))  # the one before is done
    behind.close()
    assert [d[0] for d in done] == list(range(5))
    assert all(name.startswith("p2c-commit") and name != "MainThread" for _, name in done)


def test_a_failure_is_raised_at_the_next_submit_and_nothing_after_it_runs() -> None:
    behind = Behind()
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("state database gone")

    behind.submit(fail)
    with pytest.raises(RuntimeError, match="gone"):
        behind.submit(lambda: ran.append(1))
    assert ran == []
    behind.close()


def test_close_waits_for_the_last_piece_and_raises_its_failure() -> None:
    behind = Behind()
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.05)
        finished.set()

    behind.submit(slow)
    behind.close()
    assert finished.is_set()

    def fail() -> None:
        raise OSError("disk full")

    behind.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        behind.close()
    behind.wait()  # nothing pending any more
