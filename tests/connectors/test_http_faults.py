"""Fault shapes the emulator cannot produce (resets, a token refused mid-run, HTTP-date
Retry-After), on httpx's MockTransport in front of the real session code."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fake_cloud import SECRET, session

from p2c import ConnectionFailed
from p2c.connectors import FinOpsDestination
from p2c.connectors._http import Call
from p2c.connectors._policy import retry_after
from p2c.connectors._wire import parse_batch_response


def test_a_refused_token_is_refreshed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"]
        seen.append(token)
        if token == "Bearer t1":  # the first token is revoked after it was cached
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"})
        return httpx.Response(200, json={"value": []})

    api_session, cloud = session(tmp_path, monkeypatch, api)
    assert api_session.get_json("LegalEntities") == {"value": []}
    assert seen == ["Bearer t1", "Bearer t2"]
    assert cloud.tokens == 2
    api_session.get_json("LegalEntities")
    assert cloud.tokens == 2  # the new token is cached


def test_a_token_refused_twice_fails_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_session, cloud = session(
        tmp_path, monkeypatch, lambda r: httpx.Response(401, json={"error": {"message": "no"}})
    )
    with pytest.raises(ConnectionFailed) as caught:
        api_session.get_json("LegalEntities")
    assert cloud.tokens == 2  # refreshed once, not in a loop
    assert "test/finops" in str(caught.value)
    assert "Microsoft Entra applications" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_resets_and_gateway_errors_are_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = iter(["reset", "502", "504"])

    def api(request: httpx.Request) -> httpx.Response:
        fault = next(faults, None)
        if fault == "reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        if fault:
            return httpx.Response(int(fault))
        return httpx.Response(200, json={"value": [{"LegalEntityId": "usmf"}]})

    api_session, _ = session(tmp_path, monkeypatch, api)
    assert api_session.get_json("LegalEntities")["value"] == [{"LegalEntityId": "usmf"}]
    assert api_session.retried == 3


def test_records_still_throttled_when_retries_run_out_come_back_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503, headers={"Retry-After": "0"}, json={"error": {"message": "busy"}}
        )

    api_session, _ = session(tmp_path, monkeypatch, api, max_retries=0, batch_size=1)
    results = FinOpsDestination(api_session).upsert(
        "CustomersV2",
        ["dataAreaId", "CustomerAccount"],
        [{"dataAreaId": "usmf", "CustomerAccount": "C1", "CustomerGroupId": "10"}],
    )
    assert [(r.status, r.retryable) for r in results] == [("failed", True)]
    assert "run again" in (results[0].message or "")


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "0.5"}) == 0.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({}) is None


def test_batch_answers_are_read_in_order_through_change_sets() -> None:
    text = (
        "--batchresponse_1\r\n"
        "Content-Type: multipart/mixed; boundary=changesetresponse_a\r\n\r\n"
        "--changesetresponse_a\r\nContent-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
        "--changesetresponse_a--\r\n"
        "--batchresponse_1\r\nContent-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n"
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
        '{"error":{"code":"","message":"An error has occurred.","innererror":'
        '{"message":"Customer group \'99\' does not exist."}}}\r\n'
        "--batchresponse_1--\r\n"
    )
    answers = parse_batch_response(text, "multipart/mixed; boundary=batchresponse_1")
    assert [a.status for a in answers] == [204, 400]
    assert answers[1].body["error"]["innererror"]["message"].endswith("does not exist.")


def test_batch_requests_carry_each_write_in_its_own_change_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        bodies.append(body)
        boundary = "batchresponse_x"
        parts = "".join(
            f"--{boundary}\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
            for _ in range(body.count("PATCH "))
        )
        return httpx.Response(
            200,
            content=(parts + f"--{boundary}--\r\n").encode(),
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
        )

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=10)
    calls = [
        Call("PATCH", f"CustomersV2(dataAreaId='usmf',CustomerAccount='C{i}')", {"A": i})
        for i in range(3)
    ]
    answers = api_session.send_all(calls)
    assert [a.status for a in answers] == [204, 204, 204]
    assert len(bodies) == 1
    assert bodies[0].count("boundary=changeset_") == 3
    assert (
        "PATCH https://fo.example/data/CustomersV2(dataAreaId='usmf',CustomerAccount='C0') HTTP/1.1"
        in bodies[0]
    )


@pytest.mark.parametrize("new", [[True], None], ids=["created-first", "read-first"])
def test_a_create_whose_answer_was_lost_is_found_and_not_reported_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new: list[bool] | None
) -> None:
    """The POST reaches F&O but its answer is lost; the retried POST finds the record
    there ("already exists"): the record is read back and reported, not failed."""
    stored: dict[str, dict[str, object]] = {}
    posts = 0

    def api(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "GET":
            return httpx.Response(200, json={"value": list(stored.values())})
        posts += 1
        body = json.loads(request.content)
        if body["CustomerAccount"] in stored:
            return httpx.Response(
                400,
                json={
                    "error": {
                        "message": "An error has occurred.",
                        "innererror": {"message": "Write failed: The record already exists."},
                    }
                },
            )
        stored[body["CustomerAccount"]] = body
        raise httpx.ReadTimeout("the answer was lost", request=request)

    api_session, _ = session(tmp_path, monkeypatch, api, batch_size=1)
    record = {"dataAreaId": "usmf", "CustomerAccount": "C-1", "OrganizationName": "Lost"}
    (result,) = FinOpsDestination(api_session).upsert(
        "CustomersV2", ["dataAreaId", "CustomerAccount"], [record], new=new
    )
    assert posts == 2
    assert (result.status, result.key) == ("unchanged", ("usmf", "C-1"))
