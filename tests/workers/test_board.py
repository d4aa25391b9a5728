"""The job board's leases: a job (a run, or a partition of a first sync) is taken by one
worker at a time, and never run again once it has a result."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
from workers_world import RedisServer

from p2c.workers import JobBoard
from p2c.workers._board import Lease

STALE = 30.0


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    redis_server.flush()
    with redis_server.client() as connection:
        yield connection


def test_a_job_is_taken_once_and_not_after_its_result(client: redis.Redis) -> None:
    board = JobBoard(client)
    assert board.take("j", "worker-a", STALE) == "ours"
    assert board.take("j", "worker-b", STALE) == "held"
    assert board.finish("j", "worker-a", {"result": 1})
    board.release("j", "worker-a")
    assert board.take("j", "worker-b", STALE) == "done"
    assert board.holder("j") is None


class _FinishedMeanwhile(JobBoard):
    """A board on which another worker ends the job and gives its lease back just before
    this one claims it: between the first look at the result and the claim."""

    def __init__(self, client: redis.Redis, other: JobBoard) -> None:
        super().__init__(client)
        self.other = other

    def claim(self, job: str, holder: str, stale_after: float) -> bool:
        assert self.other.claim(job, "worker-a", stale_after)
        self.other.finish(job, "worker-a", {"result": "by worker-a"})
        self.other.release(job, "worker-a")
        return super().claim(job, holder, stale_after)


def test_a_job_that_ends_while_it_is_being_taken_is_not_run_again(
    client: redis.Redis,
) -> None:
    board = _FinishedMeanwhile(client, JobBoard(client))
    assert board.take("j", "worker-b", STALE) == "done"
    assert board.holder("j") is None  # the lease taken to look again is given back
    assert board.result("j") == {"result": "by worker-a"}


def test_a_worker_that_lost_its_lease_stops_and_puts_no_result(client: redis.Redis) -> None:
    board = JobBoard(client)
    assert board.take("j", "worker-a", STALE) == "ours"
    told = threading.Event()
    reasons: list[str] = []

    def cancel(reason: str) -> None:
        reasons.append(reason)
        told.set()

    lease = Lease(board, "j", "worker-a", every=0.05, stale_after=STALE, on_cancel=cancel)
    with lease:
        # worker-a was silent past the lease's life: it expired, and worker-b took the job.
        client.delete("p2c:job:j:lease")
        assert board.take("j", "worker-b", STALE) == "ours"
        assert told.wait(5)
    assert lease.lost and "lost the job's lease" in reasons[0]
    assert not board.finish("j", "worker-a", {"result": "late"})
    assert board.result("j") is None
    assert board.holder("j") == "worker-b"  # worker-a's exit did not give worker-b's lease back
    assert board.finish("j", "worker-b", {"result": "by worker-b"})
    assert board.result("j") == {"result": "by worker-b"}
