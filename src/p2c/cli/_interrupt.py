"""Ctrl-C and SIGTERM during a run: stop between batches, record the run Cancelled, exit
130 or 143.

The first signal cancels the run's token: the engine finishes (or has not begun) the batch
in progress and stops. A second one stops the run at once (``RunAbandoned`` from wherever
it stands); the engine still records it. Signals after that are ignored while the state is
being recorded.
"""

from __future__ import annotations

__all__ = ["Interrupts"]

import os
import signal
import threading
from types import FrameType
from typing import Any

from p2c.cli._render import err
from p2c.engine import CancelToken, RunAbandoned

_HOW = {signal.SIGINT: "interrupted (SIGINT)", signal.SIGTERM: "terminated (SIGTERM)"}


class Interrupts:
    """Signal handlers for the length of a run (``with Interrupts() as interrupts:``).

    Attributes:
        token: Pass it to ``Engine.run``.
        signal: The first signal received, if any.
    """

    def __init__(self) -> None:
        self.token = CancelToken()
        self.signal: int | None = None
        self._received = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread receives signals
        for number in _HOW:
            if signal.getsignal(number) == signal.SIG_IGN:
                continue  # e.g. SIGINT of a background job: Ctrl-C is not meant for it
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}

    def exit_code(self, otherwise: int) -> int:
        """128 + the signal (130 for SIGINT, 143 for SIGTERM) once one was received."""
        return 128 + self.signal if self.signal is not None else otherwise

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        self._received += 1
        if self._received == 1:
            self.signal = number
            self.token.cancel(_HOW.get(signal.Signals(number), f"signal {number}"))
            _notice(
                "Stopping after the batch in progress… (press Ctrl-C again to stop at once; "
                "what is written is kept either way)"
            )
        elif self._received == 2:
            raise RunAbandoned(self.token.reason or "interrupted")
        # Later ones: the run's state is being recorded; let it be.


def _notice(text: str) -> None:
    """A line on stderr from a signal handler: through the console (above a progress bar),
    or straight to the file descriptor when the console is busy in this very thread."""
    try:
        err.print(f"[yellow]{text}[/]")
    except Exception:  # e.g. a reentrant write to the stream the handler interrupted
        os.write(2, f"{text}\n".encode())
