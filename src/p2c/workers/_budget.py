"""The rate budget of an application user and service kept in Redis, shared by every worker.

The Dataverse and F&O limits are per user and service: two workers signed in as one
application must spend one budget, or each throttles the other and the 429s multiply. This
is the connectors' :class:`~p2c.connectors.RateBudget` with its state in Redis, driven by
the same signals as the in-process one (``x-ms-dop-hint`` sets the limit, ``Retry-After``
pauses everyone, one request probes after a pause until the window is known), and it paces
the identity to the server's *sliding window* (Dataverse counts requests "within a
5-minute sliding window") once it has learnt it:

- ``…:slots`` a sorted set of the requests in flight, each scored with the time its slot
  expires (a worker that dies holding slots gives them back after ``hold`` seconds);
- ``…:log`` a sorted set of the requests the server counted lately (sent, not answered
  429), scored with when they were sent;
- ``…:state`` a hash: ``limit``, ``resume_at`` (Redis's clock, milliseconds), ``probing``,
  and the window as learnt: ``quota`` (the requests it admits), ``span`` and ``floor``
  (what its length is known to be at most and at least) and the ``probe`` in flight.

The first 429 tells the window: its quota is what the log holds once the pause is over
(the requests the server admitted; each one answered 429 left the log), and
``Retry-After`` (whole seconds, rounded up) tells its length to within a second: at most
from the log's first request to the end of the pause, at least a second less. From then on
a request goes only while fewer than ``quota`` were sent within the ``span``; past that it
waits until the oldest of them leaves the span. Between ``floor`` and ``span`` one request
at a time probes, three quarters of the way up (a 429 costs at least a second's pause, a
pass nothing): it passing lowers the span to what it proved, a 429 raises the floor. Once
they are within 4% of each other nobody probes, and a steady run meets no 429 at all; with
a 2-second window the second of ``Retry-After``'s rounding would otherwise cost up to a
third of the throughput. A 429 the pacing did not foresee (another client spent the same
user's limit, so the quota was learnt too low and a probe proved too much) is learnt from
as the first one was, over the requests of the span: the span grows, the quota does not
shrink.

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
from typing import Any

import redis

from p2c.connectors import BudgetFactory, RateBudget

_PREFIX = "p2c:budget:"
_POLL = 0.01  # seconds between two tries for a slot while the budget is full
_TTL_MS = 86_400_000  # an identity unused for a day is forgotten

_NOW = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
"""

# KEYS: slots, state, log. ARGV: token, hold (ms), default limit, ttl (ms).
# Returns {0, bound} when the slot is taken (bound: what a probe proves the window's length
# at most, if it passes; 0 for a request that is no probe), else {ms to wait} (-1: a slot
# is given back soon).
_ENTER = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
local state = redis.call('HMGET', KEYS[2], 'limit', 'resume_at', 'probing', 'quota', 'span',
  'floor', 'probe', 'learning')
local limit = tonumber(state[1]) or tonumber(ARGV[3])
local resume = tonumber(state[2]) or 0
if ms < resume then return {math.max(1, math.ceil(resume - ms))} end
local quota = tonumber(state[4]) or 0
local span = tonumber(state[5]) or 0
local floor = tonumber(state[6]) or 0
local bound = 0
if state[7] and not redis.call('ZSCORE', KEYS[1], state[7]) then
  -- The probe's slot is given back without an answer (no response, a worker that died).
  redis.call('HDEL', KEYS[2], 'probe')
  state[7] = false
end
if state[8] == '1' then
  -- The pause is over and every request sent before it has its answer: the quota is what
  -- the server admitted of them (before they leave the span), never less than it was.
  quota = math.max(quota, redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. resume))
  redis.call('HSET', KEYS[2], 'quota', quota, 'learning', '0')
end
-- The requests sent within the span (the last quarter of an hour until it is known).
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ms - (span > 0 and span or 900000))
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -20001)
if quota > 0 then
  local count = redis.call('ZCARD', KEYS[3])
  if count >= quota then
    -- The request whose leaving the window makes room.
    local first = tonumber(redis.call('ZRANGE', KEYS[3], count - quota, count - quota,
      'WITHSCORES')[2])
    if state[7] or span - floor <= math.max(20, span * 0.04) then
      return {math.max(1, math.ceil(first + span - ms))}
    end
    -- A probe three quarters of the way up: a 429 costs at least a second's pause, a
    -- pass costs nothing.
    local probe_at = first + floor + (span - floor) * 0.75
    if ms < probe_at then return {math.max(1, math.ceil(probe_at - ms))} end
    bound = ms - first
  end
elseif state[3] == '1' then
  limit = 1
end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZADD', KEYS[3], ms, ARGV[1])
  if bound > 0 then redis.call('HSET', KEYS[2], 'probe', ARGV[1]) end
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[4])) end
  return {0, tostring(bound)}
end
return {-1}
"""
)

# KEYS: state. ARGV: token, bound. A request passed: the probe after a pause lets everyone
# go again, and a window probe proved the window no longer than its bound.
_PASSED = """
local state = redis.call('HMGET', KEYS[1], 'probing', 'probe', 'span')
if state[1] == '1' then redis.call('HSET', KEYS[1], 'probing', '0') end
if ARGV[1] ~= '' and state[2] == ARGV[1] then
  -- With a margin for the requests' times on their way (they are stamped when sent).
  local bound = tonumber(ARGV[2]) * 1.01
  redis.call('HSET', KEYS[1], 'span', math.min(tonumber(state[3]), bound))
  redis.call('HDEL', KEYS[1], 'probe')
end
return 0
"""

# KEYS: state, log. ARGV: seconds, ttl (ms), token and bound of the throttled request ('' and
# 0 when not known). The pause ends at the later of the two.
_PAUSE = (
    _NOW
    + """
local until_ms = ms + tonumber(ARGV[1]) * 1000
local state = redis.call('HMGET', KEYS[1], 'resume_at', 'probe')
local resume = tonumber(state[1]) or 0
local sent = ARGV[3] ~= '' and redis.call('ZSCORE', KEYS[2], ARGV[3])
if sent then
  -- The server did not count it.
  redis.call('ZREM', KEYS[2], ARGV[3])
  if state[2] == ARGV[3] then
    -- A probe met the window: it is longer than the probe's bound.
    redis.call('HSET', KEYS[1], 'floor', tonumber(ARGV[4]))
    redis.call('HDEL', KEYS[1], 'probe')
  elseif ms >= resume then
    -- The first 429, or one the pacing did not foresee: learn the window (again).
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
    if oldest then
      local span = until_ms - tonumber(oldest)
      redis.call('HSET', KEYS[1], 'learning', '1', 'span', span,
        'floor', math.max(0, span - 1000))
      redis.call('HDEL', KEYS[1], 'probe')
    end
  end
end
if until_ms > resume then redis.call('HSET', KEYS[1], 'resume_at', until_ms) end
redis.call('HSET', KEYS[1], 'probing', '1')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 0
"""
)


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
        self._passed: Any = client.register_script(_PASSED)
        self._pause: Any = client.register_script(_PAUSE)
        # The token and probe bound of this thread's request in flight (enter to leave).
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
                self._sending.request = (token, answer[1].decode())
                return
            time.sleep(_POLL if wait < 0 else min(wait / 1000, 1.0))

    def leave(self) -> None:
        token, _ = self._request()
        self._sending.request = None
        if token:
            self.client.zrem(self.slots, token)

    def pause(self, seconds: float) -> None:
        token, bound = self._request()
        self._pause(keys=[self.state, self.log], args=[seconds, _TTL_MS, token, bound])

    def passed(self) -> None:
        token, bound = self._request()
        self._passed(keys=[self.state], args=[token, bound])

    def resize(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self.client.hset(self.state, "limit", limit)

    def _request(self) -> tuple[str, str]:
        """This thread's request in flight: token and bound ('' and '0' outside one)."""
        request: tuple[str, str] | None = getattr(self._sending, "request", None)
        return request if request is not None else ("", "0")


def redis_budgets(client: redis.Redis) -> BudgetFactory:
    """A factory for ``p2c.connectors.use_rate_budgets``: budgets kept in ``client``."""

    def factory(identity: str, limit: int, hold: float) -> RateBudget:
        return RedisBudget(client, identity, limit, hold)

    return factory
