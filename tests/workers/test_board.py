"""The job board's leases: a job (a run, or a partition of a first sync) is taken by one
worker at a time, and never run again once it has a result."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from workers_world import RedisServer

from p2c.workers import JobBoard

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
    board.finish("j", {"result": 1})
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
        self.other.finish(job, {"result": "by worker-a"})
        self.other.release(job, "worker-a")
        return super().claim(job, holder, stale_after)


def test_a_job_that_ends_while_it_is_being_taken_is_not_run_again(
    client: redis.Redis,
) -> None:
    board = _FinishedMeanwhile(client, JobBoard(client))
    assert board.take("j", "worker-b", STALE) == "done"
    assert board.holder("j") is None  # the lease taken to look again is given back
    assert board.result("j") == {"result": "by worker-a"}
