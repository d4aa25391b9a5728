"""The rate budget of an application user and service kept in Redis, shared by every worker.

The Dataverse and F&O limits are per user and service: two workers signed in as one
application must spend one budget, or each throttles the other and the 429s multiply. This
is the connectors' :class:`~p2c.connectors.RateBudget` with its state in Redis, driven by
the same signals as the in-process one (``x-ms-dop-hint`` sets the limit, ``Retry-After``
pauses everyone, one request probes after a pause until the window's quota is known):

- ``…:slots`` a sorted set of the requests in flight, each scored with the time its slot
  expires (a worker that dies holding slots gives them back after ``hold`` seconds);
- ``…:state`` a hash: ``limit``, ``resume_at`` (milliseconds, Redis's clock), ``probing``,
  and what the server's window admits, learnt from its 429s;
- ``…:log`` a sorted set of the requests sent lately, scored with when they were sent.

What the window admits is learnt from the first 429 after a pause: the requests sent since
the pause (a *round*) before the throttled one are the *quota*, and the time from the
round's first request to the end of the pause asked for is the *span* (at least the
server's window: ``Retry-After`` is rounded up). While ``quota`` requests were sent within
the last ``span`` (and since the last pause, after which the server has room for a round
again), requests go one at a time, so that one request meets the full window,
not one from each thread of each worker sending together at its edge (which is what made
two workers meet more 429s than one process). A one-at-a-time request that passes raises
the quota at the next 429; a lower one brings it down. Once a quota is known, it stands for
the probe after a pause.

Every decision is one Lua script run by Redis against its own clock, so hosts whose clocks
differ still agree. A key names the identity by a digest of application id and API root:
no secret, nothing readable.
"""

from __future__ import annotations

__all__ = ["RedisBudget", "redis_budgets"]

import hashlib
import threading
import time
import uuid
from collections import deque
from typing import Any

import redis

from p2c.connectors import BudgetFactory, RateBudget

_PREFIX = "p2c:budget:"
_POLL = 0.01  # seconds between two tries for a slot while the budget is full
_TTL_MS = 86_400_000  # an identity unused for a day is forgotten

# KEYS: slots, state, log. ARGV: token, hold (ms), default limit, ttl (ms).
# Returns {0, round, number in the round} when the slot is taken, else {ms to wait} (-1: a
# slot is given back soon).
_ENTER = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
local state = redis.call('HMGET', KEYS[2], 'limit', 'resume_at', 'probing', 'round', 'sent',
  'start', 'quota', 'span')
local limit = tonumber(state[1]) or tonumber(ARGV[3])
local resume = tonumber(state[2]) or 0
if ms < resume then return {resume - ms} end
local round = tonumber(state[4]) or 0
local sent = tonumber(state[5]) or 0
local start = tonumber(state[6]) or 0
local quota = tonumber(state[7]) or 0
local span = tonumber(state[8]) or 0
-- The requests sent within the last span (or the last quarter of an hour until one is
-- known, at most 20,000).
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ms - (span > 0 and span or 900000))
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -20001)
if quota > 0 then
  -- The window admitted `quota` requests within `span` last time: past them, one at a
  -- time, so that one request, not every sender at once, meets the full window.
  if redis.call('ZCARD', KEYS[3]) >= quota then limit = 1 end
elseif state[3] == '1' then
  limit = 1
end
if redis.call('ZCARD', KEYS[1]) < limit then
  if sent == 0 then start = ms end
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZADD', KEYS[3], ms, ARGV[1])
  redis.call('HSET', KEYS[2], 'sent', sent + 1, 'start', start)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[4])) end
  return {0, round, sent + 1}
end
return {-1}
"""

# KEYS: state, log. ARGV: seconds, ttl (ms), round and number of the throttled request ('' and 0
# when not known). The pause ends at the later of the two. The first 429 of a round ends
# it and tells what the server's window holds: the requests of the round sent before the
# throttled one (the quota), over the time from the round's first request to the end of
# the pause (the span).
_PAUSE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local until_ms = ms + math.floor(tonumber(ARGV[1]) * 1000)
local state = redis.call('HMGET', KEYS[1], 'resume_at', 'round', 'start')
local resume = tonumber(state[1]) or 0
local round = tonumber(state[2]) or 0
local start = tonumber(state[3]) or 0
if ms >= resume then
  if ARGV[3] ~= '' and tonumber(ARGV[3]) == round and tonumber(ARGV[4]) > 1 then
    redis.call('HSET', KEYS[1], 'quota', tonumber(ARGV[4]) - 1, 'span', until_ms - start)
  end
  redis.call('HSET', KEYS[1], 'round', round + 1, 'sent', 0)
  -- After the pause the server has room for a round again: count it from nothing.
  redis.call('DEL', KEYS[2])
end
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
        self.log = f"{_PREFIX}{digest}:log"
        self.client = client
        self.limit = limit
        self.hold_ms = int((hold + 5) * 1000)
        self._enter: Any = client.register_script(_ENTER)
        self._pause: Any = client.register_script(_PAUSE)
        self._tokens: deque[str] = deque()
        # The round and number of this thread's request in flight (enter to leave).
        self._sending = threading.local()

    def enter(self) -> None:
        token = uuid.uuid4().hex
        while True:
            answer = self._enter(
                keys=[self.slots, self.state, self.log],
                args=[token, self.hold_ms, self.limit, _TTL_MS],
            )
            wait = int(answer[0])
            if wait == 0:
                self._tokens.append(token)
                self._sending.request = (int(answer[1]), int(answer[2]))
                return
            time.sleep(_POLL if wait < 0 else min(wait / 1000, 1.0))

    def leave(self) -> None:
        self._sending.request = None
        try:
            token = self._tokens.popleft()
        except IndexError:
            return
        self.client.zrem(self.slots, token)

    def pause(self, seconds: float) -> None:
        request = getattr(self._sending, "request", None)
        round_, number = request if request is not None else ("", 0)
        self._pause(keys=[self.state, self.log], args=[seconds, _TTL_MS, round_, number])

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
