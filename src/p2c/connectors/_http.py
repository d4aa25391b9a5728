"""One HTTPS session per environment: tokens, bounded concurrency, retries, ``$batch``.

The engine is synchronous and hands a destination one page at a time; the session sends the
page's requests from a small thread pool. How many run at once starts from the server's
``x-ms-dop-hint`` (capped by ``max_concurrency``). What an answer means is the policy's
(``_policy.py``): a throttled request pauses every thread of the session's rate budget
(``_budget.py``: the session's own, or one shared by every worker of the identity) until
``Retry-After`` has passed, since the limit is per user and one thread's throttle is the
others' too; transient failures are retried with exponential backoff and jitter. A request
that is still failing when its retries are spent comes back as an :class:`Answer` marked
``exhausted``, so its records are reported failed and retryable, never lost.
"""

from __future__ import annotations

__all__ = ["Answer", "ApiSession", "Call", "error_message", "totals"]

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from p2c._errors import ConfigError, ConnectionFailed, NotFoundError
from p2c.connectors._auth import BearerToken, TokenProvider, ssl_context, unreachable
from p2c.connectors._budget import rate_budget
from p2c.connectors._config import _HttpConnection
from p2c.connectors._policy import Action, Retries, Verdict, classify, classify_error
from p2c.connectors._wire import (
    Answer,
    Call,
    batch_part,
    error_message,
    json_or_none,
    parse_batch_response,
    text_of,
)

_TOTALS = {"requests": 0, "throttled": 0, "retried": 0}
_TOTALS_LOCK = threading.Lock()


def totals() -> dict[str, int]:
    """Requests, 429 answers and retries of every session of this process (benchmarks)."""
    with _TOTALS_LOCK:
        return dict(_TOTALS)


class ApiSession:
    """Requests to one API root of one environment.

    Args:
        connection: The connection settings.
        root: The workspace folder.
        label: How messages name the connection.
        api_root: The root all relative URLs are resolved against (ends with ``/``).
        transport: Another httpx transport (tests of fault shapes no server produces).
    """

    def __init__(
        self,
        connection: _HttpConnection,
        root: Path,
        label: str,
        api_root: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self.label = label
        self.api_root = api_root
        self.client = httpx.Client(
            verify=ssl_context(connection, root),
            transport=transport,
            timeout=connection.timeout,
            limits=httpx.Limits(
                max_connections=connection.max_concurrency + 2,
                max_keepalive_connections=connection.max_concurrency + 2,
            ),
        )
        self.tokens = TokenProvider(connection, root, label, self.client)
        self.auth = BearerToken(self.tokens)
        # The limits are per application user and service: sessions of one identity share
        # one budget (across processes and hosts, when the workers installed one).
        self.gate = rate_budget(
            f"{connection.client_id}@{api_root}",
            min(4, connection.max_concurrency),
            connection.timeout,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = 0
        self.retried = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.client.close()

    def url(self, relative: str) -> str:
        return (
            relative if relative.startswith(("https://", "http://")) else self.api_root + relative
        )

    # one request ---------------------------------------------------------------------------

    def send(
        self,
        call: Call,
        *,
        params: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        signed: bool = True,
    ) -> Answer:
        """Send one call, retrying as the policy says; never raises for HTTP statuses (the
        caller decides what a 4xx means), only ConnectionFailed when signing in fails or the
        session's first request cannot connect. ``signed=False`` sends no token: a URL that
        carries its own signature (a blob's shared access signature)."""
        url = self.url(call.url)
        content = raw
        if content is None and call.body is not None:
            content = json.dumps(call.body).encode("utf-8")
        headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            **({"Content-Type": "application/json"} if call.body is not None else {}),
            **call.headers,
        }
        retries = Retries(self.connection.max_retries)
        while True:
            answer = self._attempt(
                call.method, url, params, content, headers, retries, self.auth if signed else None
            )
            verdict = classify(answer.status, answer.headers, refreshed=True)
            answer.attempts = retries.attempts
            if not verdict.retry:
                return answer
            if answer.status == 429:
                self._count(throttled=1)
            if not retries.take(verdict):
                answer.exhausted = True
                return answer
            self._count(retried=1)
            self._wait(verdict, retries)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        headers: Mapping[str, str],
        retries: Retries,
        auth: httpx.Auth | None,
    ) -> Answer:
        """One request through the gate; status 0 when no answer came."""
        self.gate.enter()
        try:
            try:
                response = self.client.request(
                    method, url, params=params, content=content, headers=headers, auth=auth
                )
                body = response.read()
            except httpx.TransportError as exc:
                first = self.requests == 0 and retries.failed == 0
                if classify_error(exc, first_request=first).action is Action.FAIL_RUN:
                    raise unreachable(self.label, url, exc) from None
                return Answer(0, {}, None, f"{type(exc).__name__}: {exc}")
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
            self._heed(response.status_code, answer_headers)
        finally:
            self.gate.leave()
        self._count(requests=1)
        return Answer(response.status_code, answer_headers, json_or_none(body), text_of(body))

    def _heed(self, status: int, headers: Mapping[str, str]) -> None:
        """What an answer tells every sender of the identity, told before the slot is given
        back: no other sender (a thread, or another worker sharing the budget) slips a
        request in between a 429 and the pause it calls for."""
        hint = headers.get("x-ms-dop-hint")
        if hint and hint.isdigit():
            self.gate.resize(max(1, min(int(hint), self.connection.max_concurrency)))
        verdict = classify(status, headers)
        if verdict.action is not Action.RETRY_AFTER:
            self.gate.passed()
        elif verdict.wait is not None:
            self.gate.pause(verdict.wait)

    def _wait(self, verdict: Verdict, retries: Retries) -> None:
        """Throttled: every thread of the session waits (the limit is per user). Failed: only
        this request waits."""
        wait = retries.wait(verdict)
        if verdict.action is Action.RETRY_AFTER:
            self.gate.pause(wait)
        else:
            time.sleep(wait)

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON document; raise a P2CError naming the connection when it fails."""
        answer = self.send(Call("GET", url, headers=headers or {}), params=params)
        if answer.ok and isinstance(answer.body, dict):
            return answer.body
        raise self.failure(answer, f"GET {url}")

    def failure(self, answer: Answer, what: str) -> Exception:
        """The P2CError for an answer that is not a success."""
        message = error_message(answer)
        where = f"{self.label}: {what}"
        if answer.exhausted:
            return ConnectionFailed(
                f"{where} still failed after {answer.attempts} attempts: {message}",
                fix="try again later; lower max_concurrency if the server keeps throttling",
            )
        if answer.status == 401:
            return ConnectionFailed(
                f"{where}: the environment refused the token (401): {message}",
                fix="register the app in the environment (Dataverse: an application user; "
                "F&O: System administration > Setup > Microsoft Entra applications)",
            )
        if answer.status == 403:
            return ConnectionFailed(
                f"{where}: permission denied (403): {message}",
                fix="give the application user a security role that can read and write "
                "these tables (see docs/connectors.md)",
            )
        if answer.status == 404:
            return NotFoundError(
                f"{where}: not found (404): {message}",
                fix="check the url in p2c.yaml and the entity name",
            )
        if classify(answer.status, refreshed=True).action is Action.FAIL_RECORD:
            # Refused as a request (no record to blame): what p2c asked for is wrong.
            return ConfigError(f"{where}: {message}", fix="check the mapping and the filter")
        return ConnectionFailed(f"{where}: HTTP {answer.status}: {message}")

    def _count(self, *, requests: int = 0, throttled: int = 0, retried: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.throttled += throttled
            self.retried += retried
        with _TOTALS_LOCK:
            _TOTALS["requests"] += requests
            _TOTALS["throttled"] += throttled
            _TOTALS["retried"] += retried

    # many requests ---------------------------------------------------------------------------

    def send_all(self, calls: Sequence[Call], batch_size: int | None = None) -> list[Answer]:
        """Send calls in parallel, ``batch_size`` per ``$batch`` (1: one request each); one
        answer per call, in order. Parts of a batch the policy retries are sent again in a
        later batch, each until its own retries are spent."""
        size = batch_size or self.connection.batch_size
        if not calls:
            return []
        if size == 1:
            singles = [[i] for i in range(len(calls))]
            return [a for [a] in self._map(lambda g: [self.send(calls[g[0]])], singles)]
        answers: list[Answer | None] = [None] * len(calls)
        retries = [Retries(self.connection.max_retries) for _ in calls]
        pending = list(range(len(calls)))
        while pending:
            groups = [pending[i : i + size] for i in range(0, len(pending), size)]
            results = self._map(lambda g: self._send_batch([calls[i] for i in g]), groups)
            pending = []
            wait = 0.0
            for group, group_answers in zip(groups, results, strict=True):
                for index, answer in zip(group, group_answers, strict=True):
                    answers[index] = answer
                    verdict = classify(answer.status, answer.headers, refreshed=True)
                    if answer.exhausted or not verdict.retry:
                        continue
                    if retries[index].take(verdict):
                        pending.append(index)
                        wait = max(wait, retries[index].wait(verdict))
                    else:
                        answer.exhausted = True
            if pending:
                self._count(retried=len(pending))
                self.gate.pause(wait)
        return [a for a in answers if a is not None]

    def _map(
        self, fn: Callable[[list[int]], list[Answer]], groups: list[list[int]]
    ) -> list[list[Answer]]:
        if len(groups) == 1:
            return [fn(groups[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.connection.max_concurrency, thread_name_prefix="p2c-http"
            )
        return list(self._pool.map(fn, groups))

    def _send_batch(self, calls: list[Call]) -> list[Answer]:
        """One ``$batch``: each write in a change set of its own (atomic alone, so one bad
        record never undoes the others), reads outside change sets."""
        boundary = f"batch_{uuid.uuid4()}"
        parts: list[str] = []
        for number, call in enumerate(calls, 1):
            request = batch_part(self.url(call.url), call)
            if call.method == "GET":
                parts.append(
                    f"--{boundary}\r\nContent-Type: application/http\r\n"
                    f"Content-Transfer-Encoding: binary\r\n\r\n{request}"
                )
            else:
                changeset = f"changeset_{uuid.uuid4()}"
                parts.append(
                    f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
                    f"--{changeset}\r\nContent-Type: application/http\r\n"
                    f"Content-Transfer-Encoding: binary\r\nContent-ID: {number}\r\n\r\n"
                    f"{request}\r\n--{changeset}--\r\n"
                )
        body = "".join(parts) + f"--{boundary}--\r\n"
        answer = self._send_raw(body, boundary)
        if answer.status != 200 or not isinstance(answer.body, list):
            # The batch as a whole failed: the same answer for each of its calls.
            return [
                Answer(
                    answer.status,
                    answer.headers,
                    answer.body,
                    answer.text,
                    answer.exhausted,
                    answer.attempts,
                )
                for _ in calls
            ]
        responses: list[Answer] = answer.body
        if len(responses) != len(calls):
            return [
                Answer(
                    502,
                    {},
                    None,
                    f"$batch answered {len(responses)} of {len(calls)} requests",
                    False,
                )
                for _ in calls
            ]
        return responses

    def _send_raw(self, body: str, boundary: str) -> Answer:
        call = Call(
            "POST",
            "$batch",
            None,
            {
                "Content-Type": f"multipart/mixed; boundary={boundary}",
                "Prefer": "odata.continue-on-error",
            },
        )
        answer = self.send(call, raw=body.encode("utf-8"))
        if answer.status == 200:
            content_type = answer.headers.get("content-type", "")
            answer.body = parse_batch_response(answer.text, content_type)
        return answer
