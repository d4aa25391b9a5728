"""Read-ahead: a leg's next page read (and mapped) on a thread of its own while the leg
writes the page before it.

A page's read (SQLite's rows, or an HTTP page) and its map need nothing of what the
destination does with the page before, so they overlap with that write: against a remote
Dynamics the next page's request is in flight while the destination answers this one. Pages
still reach the leg one at a time and in order, so the leg writes, commits and moves its
cursor exactly as without read-ahead; the thread never touches the state or the
destination. At most ``depth`` pages wait, so memory stays a few pages whatever the data.
"""

from __future__ import annotations

__all__ = ["ReadAhead"]

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

Page = TypeVar("Page")
Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


class ReadAhead(Generic[Page, Prepared]):
    """The pages of ``pages``, each with ``prepare(page)``, made on a thread one page ahead.

    Iterate it once, inside ``with``: leaving the block (at the end, or on an error or a
    cancel in the leg) stops the thread and closes ``pages`` on it. An error of the read or
    of ``prepare`` is raised in the leg, at the page where it happened.
    """

    def __init__(
        self, pages: Iterator[Page], prepare: Callable[[Page], Prepared], depth: int = 1
    ) -> None:
        self._pages = pages
        self._prepare = prepare
        self._ready: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._work, name="p2c-read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[Page, Prepared]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        while self._thread.is_alive():
            self._drain()  # a put waiting for room returns, and the thread sees the stop
            self._thread.join(0.01)

    def __iter__(self) -> Iterator[tuple[Page, Prepared]]:
        while (item := self._ready.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield cast(tuple[Page, Prepared], item)

    def _work(self) -> None:
        pages = self._pages
        try:
            for page in pages:
                if self._stopped.is_set():
                    return
                self._ready.put((page, self._prepare(page)))
            self._ready.put(_END)
        except BaseException as error:  # raised again in the leg's thread
            self._ready.put(_Failed(error))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def _drain(self) -> None:
        try:
            while True:
                self._ready.get_nowait()
        except queue.Empty:
            pass
