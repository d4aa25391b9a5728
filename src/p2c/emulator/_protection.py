"""Service protection: requests per sliding window, concurrent requests, faults, latency.

Each service (Sales, F&O, CDS) has its own limits, as the real services do. Over a limit the
request is answered 429 with ``Retry-After`` and does not count; the counters are kept for
benchmarks (:class:`EmulatorStats`). Faults are drawn from a seeded generator, so a run with
the same seed and the same request order meets the same faults.
"""

from __future__ import annotations

__all__ = ["Admission", "EmulatorStats", "ServiceProtection", "ServiceStats"]

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from p2c.emulator._settings import EmulatorSettings


@dataclass
class ServiceStats:
    """Counters of one service."""

    requests: int = 0
    throttled: int = 0
    faults: int = 0
    unauthorized: int = 0
    operations: int = 0


@dataclass(frozen=True)
class EmulatorStats:
    """Counters of a running emulator, all services together and per service.

    Attributes:
        requests: Authenticated requests that reached a service (throttled ones included).
        throttled: Requests answered 429.
        faults: Requests answered with an injected 503 or 500.
        unauthorized: Requests refused 401.
        operations: Requests executed, counting each request inside a ``$batch``.
    """

    requests: int
    throttled: int
    faults: int
    unauthorized: int
    operations: int
    services: dict[str, ServiceStats] = field(default_factory=dict)


@dataclass(frozen=True)
class Admission:
    """The outcome of admitting a request: refused (``limit`` set) or admitted."""

    limit: str | None = None  # "requests" or "concurrency"
    retry_after: int = 0
    remaining: int = 0
    fault: int | None = None  # 503 or 500 when a fault is injected


class ServiceProtection:
    """The limits of one service."""

    def __init__(self, settings: EmulatorSettings, seed: int) -> None:
        self.settings = settings
        self.stats = ServiceStats()
        self._times: deque[float] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def admit(self) -> Admission:
        """Count a request in, or refuse it; every admitted request must be released."""
        s = self.settings
        with self._lock:
            self.stats.requests += 1
            now = time.monotonic()
            window = s.window_seconds
            while self._times and self._times[0] <= now - window:
                self._times.popleft()
            if self._in_flight >= s.max_concurrent:
                self.stats.throttled += 1
                return Admission("concurrency", self._retry_after(1.0))
            if len(self._times) >= s.requests_per_window:
                self.stats.throttled += 1
                wait = self._times[0] + window - now
                return Admission("requests", self._retry_after(wait))
            self._times.append(now)
            self._in_flight += 1
            fault = None
            if s.fault_rate and self._random.random() < s.fault_rate:
                fault = 503 if self._random.random() < 0.75 else 500
                self.stats.faults += 1
            return Admission(None, remaining=s.requests_per_window - len(self._times), fault=fault)

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def count_operations(self, n: int) -> None:
        with self._lock:
            self.stats.operations += n

    def count_unauthorized(self) -> None:
        with self._lock:
            self.stats.unauthorized += 1

    def _retry_after(self, wait: float) -> int:
        if self.settings.retry_after is not None:
            return max(0, math.ceil(self.settings.retry_after))
        # Whole seconds, rounded up: retrying after it always finds room.
        return max(1, math.ceil(wait))
