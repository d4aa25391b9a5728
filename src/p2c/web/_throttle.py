"""Sign-in throttling: after repeated failures for a user name or from an address, each
further try waits longer (30 s, doubling, at most 15 minutes) until a sign-in succeeds or
the failures are older than the window."""

from __future__ import annotations

__all__ = ["SignInThrottle"]

import threading
import time
from collections.abc import Callable, Iterable

FREE_FAILURES = 5
WINDOW = 15 * 60.0
FIRST_WAIT = 30.0
LONGEST_WAIT = 15 * 60.0


class SignInThrottle:
    """Failures by key (``name:alice``, ``ip:10.0.0.5``), in memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds before a sign-in of these keys may be tried (0: now)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < WINDOW]
                self._failures[key] = recent
                if len(recent) >= FREE_FAILURES:
                    extra = len(recent) - FREE_FAILURES
                    delay = min(LONGEST_WAIT, FIRST_WAIT * 2**extra)
                    longest = max(longest, recent[-1] + delay - now)
        return max(0.0, longest)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 100_000:  # memory stays bounded under a flood
                self._failures.clear()
            for key in keys:
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
