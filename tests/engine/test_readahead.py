"""Read-ahead: pages in order, each prepared on the read-ahead thread, at most one page
ahead; errors raised where they happened; leaving early stops the read and closes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from p2c.engine._readahead import ReadAhead


def _pages(count: int, read: list[int], closed: threading.Event) -> Iterator[list[int]]:
    try:
        for n in range(count):
            read.append(n)
            yield [n] * 3
    finally:
        closed.set()


def test_pages_come_in_order_prepared_on_the_thread_that_reads_them() -> None:
    read: list[int] = []
    closed = threading.Event()
    threads: set[str] = set()

    def prepare(page: list[int]) -> int:
        threads.add(threading.current_thread().name)
        return sum(page)

    with ReadAhead(_pages(5, read, closed), prepare) as pages:
        got = list(pages)
    assert got == [([n] * 3, 3 * n) for n in range(5)]
    assert threads == {"p2c-read-ahead"}
    assert closed.is_set()


def test_the_read_stays_one_page_ahead() -> None:
    read: list[int] = []
    closed = threading.Event()
    with ReadAhead(_pages(100, read, closed), len) as pages:
        for number, _ in enumerate(pages):
            # the page handed over, one waiting for room, one being read at most
            assert len(read) <= number + 3
            if number == 10:
                break
    assert closed.wait(5)
    assert len(read) <= 13


def test_a_read_error_is_raised_after_the_pages_before_it() -> None:
    def failing() -> Iterator[list[int]]:
        yield [1]
        yield [2]
        raise ConnectionError("the server went away")

    seen = []
    with ReadAhead(failing(), len) as pages, pytest.raises(ConnectionError, match="went away"):
        for page, _ in pages:
            seen.append(page)
    assert seen == [[1], [2]]


def test_a_prepare_error_is_raised_at_its_page() -> None:
    def prepare(page: list[int]) -> int:
        if page == [2, 2, 2]:
            raise ValueError("cannot map page 2")
        return 0

    read: list[int] = []
    closed = threading.Event()
    seen = []
    with ReadAhead(_pages(5, read, closed), prepare) as pages, pytest.raises(ValueError):
        for page, _ in pages:
            seen.append(page[0])
    assert seen == [0, 1]
    assert closed.wait(5)


def test_leaving_on_an_error_of_the_leg_stops_and_closes_the_read() -> None:
    read: list[int] = []
    closed = threading.Event()
    with pytest.raises(KeyError), ReadAhead(_pages(1000, read, closed), len) as pages:
        for _ in pages:
            raise KeyError("the leg failed")
    assert closed.is_set()  # the thread is gone when the block is left
    assert len(read) < 5
