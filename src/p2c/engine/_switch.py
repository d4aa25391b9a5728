"""Quicker thread switches while legs run.

A leg runs on three threads (``_readahead.py``, ``_behind.py``): two of them spend most of
their time in SQLite or on the network, where they let go of Python's interpreter, and take
it back for a moment between statements. Python makes a thread that wants the interpreter
back wait until the thread holding it has run for the switch interval, 5 ms by default: a
leg's thread returning from each of a page's dozen statements would wait up to that while
the read-ahead thread maps. While any leg reads its pages (from the second on), the interval
is 0.2 ms (``sys`` has one for the whole process); the last to end puts back what was there
before.
"""

from __future__ import annotations

__all__ = ["quick_switches"]

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

INTERVAL = 0.0002  # seconds

_lock = threading.Lock()
_running = 0
_before = sys.getswitchinterval()


@contextmanager
def quick_switches() -> Iterator[None]:
    """The switch interval at ``INTERVAL`` for the block, and as it was after the last one."""
    global _running, _before
    with _lock:
        if not _running:
            _before = sys.getswitchinterval()
            sys.setswitchinterval(min(_before, INTERVAL))
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if not _running:
                sys.setswitchinterval(_before)
