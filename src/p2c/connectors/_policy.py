"""The one HTTP policy of the connectors: what an answer of Dataverse or F&O means.

Every call path (a single request, the parts of a ``$batch``, the token's ``httpx.Auth``, a
record's outcome, the existence read of an upsert) asks :func:`classify` what to do:

========================================================  =================================
answer                                                    action
========================================================  =================================
2xx                                                       deliver
429; 503 with ``Retry-After``                             retry after the server's wait
500 (twice at most), 502, 503 without ``Retry-After``,    retry with backoff
504, no answer (reset, timeout)
401, the first time                                       refresh the token once, resend
401 after the refresh, 403, 407, 3xx, other 5xx           fail the run
other 4xx (400, 404, 409, 412, 422, …)                    fail the record
========================================================  =================================

A connect error on the first request of a session fails the run at once (a wrong URL or a
server that is not running), see :func:`classify_error`. A retry whose budget is spent
(:class:`Retries`) leaves the record failed and *retryable*: the next run writes it. Where
there is no record to fail (reading pages, metadata), "fail the record" fails the run too.
"""

from __future__ import annotations

__all__ = ["Action", "Retries", "Verdict", "backoff", "classify", "classify_error", "retry_after"]

import email.utils
import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

_BACKOFF_BASE, _BACKOFF_CAP = 0.25, 30.0
# A 500 is as often a real error as a passing one: retry it a little only.
_RETRIES_500 = 2


class Action(enum.Enum):
    """What to do with an answer."""

    DELIVER = "deliver"
    RETRY_AFTER = "retry after"
    RETRY_BACKOFF = "retry with backoff"
    REFRESH_TOKEN = "refresh the token"
    FAIL_RECORD = "fail the record"
    FAIL_RUN = "fail the run"


@dataclass(frozen=True)
class Verdict:
    """The policy's answer: the action, the wait the server asked for (``Retry-After``,
    seconds), and at most how many retries of this kind (None: the connection's
    ``max_retries``)."""

    action: Action
    wait: float | None = None
    most: int | None = None

    @property
    def retry(self) -> bool:
        """Whether the request is sent again (after a wait)."""
        return self.action in (Action.RETRY_AFTER, Action.RETRY_BACKOFF)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (given as seconds or as an HTTP date)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:  # "-0000": UTC, says RFC 5322
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 0.25 s doubled per attempt, at most 30 s."""
    return random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))


def classify(
    status: int, headers: Mapping[str, str] | None = None, *, refreshed: bool = False
) -> Verdict:
    """What to do with an answer of ``status`` (0: none came) and ``headers``.

    Args:
        status: The HTTP status; 0 when the connection failed before an answer.
        headers: The answer's headers (``Retry-After`` is read from them).
        refreshed: The token was already refreshed for this request: a 401 now means the
            environment does not accept the application (the session's requests all come
            through the token's ``httpx.Auth``, which refreshes first).
    """
    wait = retry_after(headers or {})
    if 200 <= status < 300:
        return Verdict(Action.DELIVER)
    if status == 0:
        return Verdict(Action.RETRY_BACKOFF)
    if status == 401:
        return Verdict(Action.FAIL_RUN if refreshed else Action.REFRESH_TOKEN)
    if status == 429 or (status == 503 and wait is not None):
        return Verdict(Action.RETRY_AFTER, wait)
    if status == 500:
        return Verdict(Action.RETRY_BACKOFF, wait, _RETRIES_500)
    if status in (502, 503, 504):
        return Verdict(Action.RETRY_BACKOFF, wait)
    if status in (403, 407):
        return Verdict(Action.FAIL_RUN)
    if 400 <= status < 500:
        return Verdict(Action.FAIL_RECORD)
    # A redirect (the URL is not the API's), 501 and the like: no record can fix it.
    return Verdict(Action.FAIL_RUN)


def classify_error(error: httpx.TransportError, *, first_request: bool) -> Verdict:
    """What to do when no answer came: retry with backoff, unless the session's first
    request cannot even connect (a wrong URL, nothing listening): fail the run at once."""
    if first_request and isinstance(error, httpx.ConnectError):
        return Verdict(Action.FAIL_RUN)
    return classify(0)


class Retries:
    """The retries one request has left. Throttling has a budget of its own, larger than
    that of failures: waiting as told is how a throttled client is meant to go on.

    Args:
        max_retries: The connection's ``max_retries``.
    """

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries
        self.throttled = 0
        self.failed = 0

    @property
    def attempts(self) -> int:
        """Requests sent so far."""
        return self.throttled + self.failed + 1

    def take(self, verdict: Verdict) -> bool:
        """Count one retry of the verdict's kind; False (and nothing counted) when its budget
        is spent."""
        if verdict.action is Action.RETRY_AFTER:
            if self.throttled >= self.max_retries * 4 + 8:
                return False
            self.throttled += 1
            return True
        limit = self.max_retries if verdict.most is None else min(verdict.most, self.max_retries)
        if self.failed >= limit:
            return False
        self.failed += 1
        return True

    def wait(self, verdict: Verdict) -> float:
        """Seconds before the retry just taken: the server's ``Retry-After``, else backoff."""
        if verdict.wait is not None:
            return verdict.wait
        return backoff(self.throttled if verdict.action is Action.RETRY_AFTER else self.failed)
