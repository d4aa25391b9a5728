"""Where a job stands, in Redis: who holds it, its events, its cancel request, its result.

A *job* is one Celery task: a run of some projects (or one partition of a first sync). Its
message may be delivered twice (a worker died, or the broker's visibility timeout passed
while it still ran); the board makes that harmless:

- ``…:lease`` names the worker running it and expires unless renewed (every heartbeat): a
  second delivery finds it held and waits; once the holder is silent for ``stale_after``
  seconds, the lease is gone and the next delivery takes the job over;
- ``…:result`` is set once when it ends: a delivery that finds it returns at once;
- ``…:events`` the progress the follower (``p2c run``, ``p2c serve``) shows;
- ``…:cancel`` a request to stop after the batch in progress.
"""

from __future__ import annotations

__all__ = ["JobBoard", "Lease"]

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

import redis

_PREFIX = "p2c:job:"
_KEEP = 7 * 86_400  # results and events are kept a week
log = logging.getLogger("p2c.workers")
Taken = Literal["ours", "done", "held"]

# Renew a lease only while it is ours. KEYS: lease. ARGV: holder, ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Put the result unless another worker holds the job. KEYS: lease, result. ARGV: holder,
# result, seconds kept.
_FINISH = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
"""


class JobBoard:
    """The jobs of one workspace's queue in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._renew: Any = client.register_script(_RENEW)
        self._release: Any = client.register_script(_RELEASE)
        self._finish: Any = client.register_script(_FINISH)

    @staticmethod
    def _key(job: str, part: str) -> str:
        return f"{_PREFIX}{job}:{part}"

    # leases -------------------------------------------------------------------------------------

    def claim(self, job: str, holder: str, stale_after: float) -> bool:
        """Take the job's lease unless a live worker holds it (whether it ended or not)."""
        ms = int(stale_after * 1000)
        return bool(self.client.set(self._key(job, "lease"), holder, nx=True, px=ms))

    def take(self, job: str, holder: str, stale_after: float) -> Taken:
        """Take a job that has no result and no live holder: ``ours``, else ``done`` or
        ``held``. The result is looked at again once the lease is ours: a holder puts its
        result before it gives the lease back, so a job that ends between the first look
        and the claim is not run a second time."""
        if self.result(job) is not None:
            return "done"
        if not self.claim(job, holder, stale_after):
            return "held"
        if self.result(job) is not None:
            self.release(job, holder)
            return "done"
        return "ours"

    def holder(self, job: str) -> str | None:
        value = self.client.get(self._key(job, "lease"))
        return value.decode() if isinstance(value, bytes) else None

    def renew(self, job: str, holder: str, stale_after: float) -> bool:
        """Keep holding the job; False when the lease was lost (taken over)."""
        ms = int(stale_after * 1000)
        return bool(self._renew(keys=[self._key(job, "lease")], args=[holder, ms]))

    def release(self, job: str, holder: str) -> None:
        self._release(keys=[self._key(job, "lease")], args=[holder])

    # results ------------------------------------------------------------------------------------

    def finish(self, job: str, holder: str, result: dict[str, Any]) -> bool:
        """Put the job's result, unless its lease was lost to another worker (who puts its
        own): whether it was put."""
        keys = [self._key(job, "lease"), self._key(job, "result")]
        if not self._finish(keys=keys, args=[holder, json.dumps(result), _KEEP]):
            log.warning("Job %s: not finished here, another worker took it over", job)
            return False
        self.event(job, {"type": "end"})
        return True

    def result(self, job: str) -> dict[str, Any] | None:
        value = self.client.get(self._key(job, "result"))
        if not isinstance(value, bytes):
            return None
        document: dict[str, Any] = json.loads(value)
        return document

    # events and cancel requests -----------------------------------------------------------------

    def event(self, job: str, event: dict[str, Any]) -> None:
        key = self._key(job, "events")
        pipe = self.client.pipeline()
        pipe.rpush(key, json.dumps(event))
        pipe.expire(key, _KEEP)
        pipe.execute()

    def events(self, job: str, start: int) -> list[dict[str, Any]]:
        """The job's events from number ``start`` on."""
        raw = self.client.lrange(self._key(job, "events"), start, -1)
        return [json.loads(item) for item in raw]

    def cancel(self, job: str, reason: str) -> None:
        self.client.set(self._key(job, "cancel"), reason, ex=_KEEP)

    def cancelled(self, job: str) -> str | None:
        value = self.client.get(self._key(job, "cancel"))
        return value.decode() if isinstance(value, bytes) else None

    def first_cancelled(self, jobs: tuple[str, ...]) -> str | None:
        """The reason of the first of ``jobs`` asked to stop, if any was."""
        for job in jobs:
            reason = self.cancelled(job)
            if reason:
                return reason
        return None


class Lease:
    """Holds a job while a worker runs it: renews the lease every ``every`` seconds and
    calls ``on_cancel`` when the follower asks the job to stop (or, with ``watch``, when
    any of those jobs is asked to: a partition stops with the run that split it)."""

    def __init__(
        self,
        board: JobBoard,
        job: str,
        holder: str,
        *,
        every: float,
        stale_after: float,
        on_cancel: Callable[[str], None],
        watch: tuple[str, ...] = (),
    ) -> None:
        self.board = board
        self.job = job
        self.holder = holder
        self.every = every
        self.stale_after = stale_after
        self.on_cancel = on_cancel
        self.watch = watch or (job,)
        # Lost: another worker may be running the job; this one stops and puts no result.
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="p2c-lease", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)
        try:
            self.board.release(self.job, self.holder)
        except redis.RedisError as error:  # it expires by itself
            log.warning("Could not release job %s: %s", self.job, error)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if self.board.renew(self.job, self.holder, self.stale_after):
                    reason = self.board.first_cancelled(self.watch)
                else:  # silent too long: another worker may run it now, this one stops
                    log.warning("Job %s: lease lost (this worker was silent too long)", self.job)
                    self.lost = True
                    reason = "this worker lost the job's lease (it was silent too long)"
            except redis.RedisError as error:
                log.warning("Job %s: cannot renew its lease: %s", self.job, error)
                continue
            if reason:
                self.on_cancel(reason)
