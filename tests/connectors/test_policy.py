"""The one HTTP policy: a table of answers and what p2c does with each, its retry budgets,
and the policy at work on every call path (single requests, $batch parts, record outcomes,
the existence read), on httpx's MockTransport."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fake_cloud import session

from p2c import ConfigError, ConnectionFailed
from p2c.connectors import FinOpsDestination
from p2c.connectors._http import Call
from p2c.connectors._policy import Action, Retries, Verdict, classify, classify_error

RETRY_AFTER = {"retry-after": "7"}
KEY = ["dataAreaId", "CustomerAccount"]


@pytest.mark.parametrize(
    ("status", "headers", "refreshed", "expected"),
    [
        (200, {}, False, Verdict(Action.DELIVER)),
        (201, {}, False, Verdict(Action.DELIVER)),
        (204, {}, False, Verdict(Action.DELIVER)),
        # throttled: wait as told; every thread of the session waits
        (429, RETRY_AFTER, False, Verdict(Action.RETRY_AFTER, 7.0)),
        (429, {}, False, Verdict(Action.RETRY_AFTER)),
        (503, RETRY_AFTER, False, Verdict(Action.RETRY_AFTER, 7.0)),
        # transient: retry with backoff (a 500 twice at most); no answer at all likewise
        (503, {}, False, Verdict(Action.RETRY_BACKOFF)),
        (500, {}, False, Verdict(Action.RETRY_BACKOFF, None, 2)),
        (502, {}, False, Verdict(Action.RETRY_BACKOFF)),
        (504, {}, False, Verdict(Action.RETRY_BACKOFF)),
        (504, {"retry-after": "2"}, False, Verdict(Action.RETRY_BACKOFF, 2.0)),
        (0, {}, False, Verdict(Action.RETRY_BACKOFF)),
        # the token: refreshed once; refused again, the application is not let in
        (401, {}, False, Verdict(Action.REFRESH_TOKEN)),
        (401, {}, True, Verdict(Action.FAIL_RUN)),
        # auth, permission, configuration: no record can fix them
        (403, {}, True, Verdict(Action.FAIL_RUN)),
        (407, {}, True, Verdict(Action.FAIL_RUN)),
        (301, {}, True, Verdict(Action.FAIL_RUN)),
        (501, {}, True, Verdict(Action.FAIL_RUN)),
        (505, {}, True, Verdict(Action.FAIL_RUN)),
        # business errors: this record fails, the others go on
        (400, {}, True, Verdict(Action.FAIL_RECORD)),
        (404, {}, True, Verdict(Action.FAIL_RECORD)),
        (409, {}, True, Verdict(Action.FAIL_RECORD)),
        (412, {}, True, Verdict(Action.FAIL_RECORD)),
        (422, {}, True, Verdict(Action.FAIL_RECORD)),
    ],
)
def test_every_answer_has_one_action(
    status: int, headers: dict[str, str], refreshed: bool, expected: Verdict
) -> None:
    assert classify(status, headers, refreshed=refreshed) == expected


def test_no_answer_retries_unless_the_first_request_cannot_connect() -> None:
    request = httpx.Request("GET", "https://fo.example/data/")
    refused = httpx.ConnectError("connection refused", request=request)
    reset = httpx.ReadError("connection reset by peer", request=request)
    timeout = httpx.ReadTimeout("timed out", request=request)
    assert classify_error(refused, first_request=True).action is Action.FAIL_RUN
    assert classify_error(refused, first_request=False).action is Action.RETRY_BACKOFF
    assert classify_error(reset, first_request=True).action is Action.RETRY_BACKOFF
    assert classify_error(timeout, first_request=False).action is Action.RETRY_BACKOFF


def test_retry_budgets_throttling_failures_and_500() -> None:
    retries = Retries(max_retries=3)
    throttled, failed, error_500 = classify(429), classify(502), classify(500)
    assert [retries.take(error_500) for _ in range(3)] == [True, True, False]
    assert [retries.take(failed) for _ in range(2)] == [True, False]  # 3 failures in all
    # Throttling has its own, larger budget: max_retries * 4 + 8.
    assert sum(retries.take(throttled) for _ in range(30)) == 20
    assert retries.attempts == 1 + 3 + 20
    assert Retries(0).take(failed) is False
    assert Retries(3).wait(Verdict(Action.RETRY_AFTER, 7.0)) == 7.0
    assert 0 <= Retries(3).wait(failed) <= 30


# the policy on each call path -------------------------------------------------------------


def test_503_without_retry_after_is_retried_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([503, 503])

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers, 200), json={"value": []})

    api_session, _ = session(tmp_path, monkeypatch, api)
    assert api_session.get_json("LegalEntities") == {"value": []}
    assert (api_session.retried, api_session.throttled) == (2, 0)


def test_a_500_is_retried_twice_then_the_record_is_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = 0

    def api(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "GET":
            return httpx.Response(200, json={"value": []})
        posts += 1
        return httpx.Response(500, json={"error": {"message": "boom"}})

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=1)
    record = {"dataAreaId": "usmf", "CustomerAccount": "C1", "CustomerGroupId": "10"}
    (result,) = FinOpsDestination(api_session).upsert("CustomersV2", KEY, [record])
    assert posts == 3
    assert (result.status, result.retryable) == ("failed", True)
    assert "run again" in (result.message or "")


def test_batch_parts_follow_the_same_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one $batch: a throttled part and a 500 are sent again, a business error is not."""
    rounds: list[int] = []
    faults = {"C0": [429], "C1": [500], "C2": [400]}

    def api(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        parts = body.split("PATCH ")[1:]
        rounds.append(len(parts))
        answers = []
        for part in parts:
            account = part.split("CustomerAccount='")[1].split("'")[0]
            pending = faults.get(account)
            status = pending.pop(0) if pending else 204
            text = "" if status == 204 else json.dumps({"error": {"message": f"no {account}"}})
            extra = "Retry-After: 0\r\n" if status == 429 else ""
            answers.append(f"HTTP/1.1 {status} X\r\n{extra}\r\n{text}")
        boundary = "batchresponse_x"
        content = "".join(
            f"--{boundary}\r\nContent-Type: application/http\r\n\r\n{a}\r\n" for a in answers
        )
        return httpx.Response(
            200,
            content=(content + f"--{boundary}--\r\n").encode(),
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
        )

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=10)
    calls = [
        Call("PATCH", f"CustomersV2(dataAreaId='usmf',CustomerAccount='C{i}')", {"A": i})
        for i in range(4)
    ]
    answers = api_session.send_all(calls)
    assert [a.status for a in answers] == [204, 204, 400, 204]
    assert rounds == [4, 2]  # C0 and C1 again, C2 not


def test_a_permission_refused_on_write_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"value": []})
        return httpx.Response(403, json={"error": {"message": "no privilege"}})

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=1)
    record = {"dataAreaId": "usmf", "CustomerAccount": "C1", "CustomerGroupId": "10"}
    with pytest.raises(ConnectionFailed) as caught:
        FinOpsDestination(api_session).upsert("CustomersV2", KEY, [record])
    assert "permission denied (403)" in str(caught.value)
    assert "writing CustomersV2" in str(caught.value)


def test_an_existence_read_that_stays_unavailable_leaves_records_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "down"}})

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=1, max_retries=1)
    record = {"dataAreaId": "usmf", "CustomerAccount": "C1", "CustomerGroupId": "10"}
    (result,) = FinOpsDestination(api_session).upsert("CustomersV2", KEY, [record])
    assert (result.status, result.retryable) == ("failed", True)
    assert "could not be read" in (result.message or "")


@pytest.mark.parametrize(
    ("status", "error"),
    [(407, ConnectionFailed), (301, ConnectionFailed), (501, ConnectionFailed), (400, ConfigError)],
)
def test_a_read_that_fails_names_the_kind_of_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, error: type[Exception]
) -> None:
    """A read has no record to fail: a request p2c got wrong is a configuration error, the
    rest are connection problems (exit status 5)."""
    api_session, _ = session(
        tmp_path, monkeypatch, lambda r: httpx.Response(status, json={"error": {"message": "x"}})
    )
    with pytest.raises(error) as caught:
        api_session.get_json("LegalEntities")
    assert type(caught.value) is error
