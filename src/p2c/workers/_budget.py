"""The rate budget of an application user and service kept in Redis, shared by every worker.

The Dataverse and F&O limits are per user and service: two workers signed in as one
application must spend one budget, or each throttles the other and the 429s multiply. This
is the connectors' :class:`~p2c.connectors.RateBudget` with its state in Redis, driven by
the same signals as the in-process one (``x-ms-dop-hint`` sets the limit, ``Retry-After``
pauses everyone, one request probes after a pause):

- ``…:slots`` a sorted set of the requests in flight, each scored with the time its slot
  expires (a worker that dies holding slots gives them back after ``hold`` seconds);
- ``…:state`` a hash: ``limit``, ``resume_at`` (milliseconds, Redis's clock) and
  ``probing``.

Every decision is one Lua script run by Redis against its own clock, so hosts whose clocks
differ still agree. A key names the identity by a digest of application id and API root:
no secret, nothing readable.
"""

from __future__ import annotations

__all__ = ["RedisBudget", "redis_budgets"]

import hashlib
import time
import uuid
from collections import deque
from typing import Any

import redis

from p2c.connectors import BudgetFactory, RateBudget

_PREFIX = "p2c:budget:"
_POLL = 0.01  # seconds between two tries for a slot while the budget is full
_TTL_MS = 86_400_000  # an identity unused for a day is forgotten

# KEYS: slots, state. ARGV: token, hold (ms), default limit.
# Returns 0 when the slot is taken, else milliseconds to wait before trying again.
_ENTER = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
local state = redis.call('HMGET', KEYS[2], 'limit', 'resume_at', 'probing')
local limit = tonumber(state[1]) or tonumber(ARGV[3])
local resume = tonumber(state[2]) or 0
if ms < resume then return resume - ms end
if state[3] == '1' then limit = 1 end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
  return 0
end
return -1
"""

# KEYS: state. ARGV: seconds. The pause ends at the later of the two.
_PAUSE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local until_ms = ms + math.floor(tonumber(ARGV[1]) * 1000)
local resume = tonumber(redis.call('HGET', KEYS[1], 'resume_at')) or 0
if until_ms > resume then redis.call('HSET', KEYS[1], 'resume_at', until_ms) end
redis.call('HSET', KEYS[1], 'probing', '1')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 0
"""


class RedisBudget:
    """One identity's budget in Redis (see the module's notes).

    Args:
        client: The Redis connection.
        identity: Application and API root (hashed into the key).
        limit: The limit until the server hints one.
        hold: Seconds a slot is held at most (a request's timeout).
    """

    def __init__(self, client: redis.Redis, identity: str, limit: int, hold: float) -> None:
        digest = hashlib.blake2b(identity.encode(), digest_size=12).hexdigest()
        self.slots = f"{_PREFIX}{digest}:slots"
        self.state = f"{_PREFIX}{digest}:state"
        self.client = client
        self.limit = limit
        self.hold_ms = int((hold + 5) * 1000)
        self._enter: Any = client.register_script(_ENTER)
        self._pause: Any = client.register_script(_PAUSE)
        self._tokens: deque[str] = deque()

    def enter(self) -> None:
        token = uuid.uuid4().hex
        while True:
            wait = int(
                self._enter(
                    keys=[self.slots, self.state],
                    args=[token, self.hold_ms, self.limit, _TTL_MS],
                )
            )
            if wait == 0:
                self._tokens.append(token)
                return
            time.sleep(_POLL if wait < 0 else min(wait / 1000, 1.0))

    def leave(self) -> None:
        try:
            token = self._tokens.popleft()
        except IndexError:
            return
        self.client.zrem(self.slots, token)

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.state], args=[seconds, _TTL_MS])

    def passed(self) -> None:
        # Only the first pass after a pause writes.
        if self.client.hget(self.state, "probing") == b"1":
            self.client.hset(self.state, "probing", "0")

    def resize(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self.client.hset(self.state, "limit", limit)


def redis_budgets(client: redis.Redis) -> BudgetFactory:
    """A factory for ``p2c.connectors.use_rate_budgets``: budgets kept in ``client``."""

    def factory(identity: str, limit: int, hold: float) -> RateBudget:
        return RedisBudget(client, identity, limit, hold)

    return factory
