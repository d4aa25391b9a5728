"""What the emulator refuses, over real HTTPS: deep filters and bodies, huge numbers, large
bodies, unknown query options. Each is a 4xx in the service's error shape, never a 500 and
never a traceback in the log."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from emulator_helpers import ACC, CON, Api, batch_body, read_batch, tls

from p2c.emulator import MAX_BODY
from p2c.odata import MAX_DEPTH

DEEP = "(" * (MAX_DEPTH + 1) + "lastname eq 'Lee'" + ")" * (MAX_DEPTH + 1)


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever the test sends, the emulator logs no error."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors]


def error_of(answer: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = answer.json()["error"]
    return error


@pytest.mark.parametrize(
    ("service", "path"),
    [("sales", "contacts"), ("finops", "CustomersV2"), ("cds", "Contact")],
)
def test_a_filter_past_the_nesting_limit_is_a_400(reader: Api, service: str, path: str) -> None:
    answer = reader.get(service, path, params={"$filter": DEEP})

    assert answer.status_code == 400
    assert f"more than {MAX_DEPTH} levels deep" in error_of(answer)["message"]


def test_filters_nested_thousands_deep_in_a_batch_are_400_parts(reader: Api) -> None:
    deep = "(" * 20_000 + "lastname eq 'Lee'" + ")" * 20_000
    parts = reader.batch("sales", [("GET", f"contacts?$filter={quote(deep)}", None)])

    assert parts[0]["status"] == 400
    assert f"{MAX_DEPTH} levels" in parts[0]["json"]["error"]["message"]


def test_a_filter_of_1500_ids_is_answered(reader: Api) -> None:
    ids = [CON] + [f"00000000-0000-4000-8000-{n:012d}" for n in range(1499)]
    text = " or ".join(f"contactid eq {i}" for i in ids)
    url = f"contacts?$select=contactid&$filter={quote(text)}"
    parts = reader.batch("sales", [("GET", url, None)])

    assert parts[0]["status"] == 200, parts[0]
    assert [r["contactid"] for r in parts[0]["json"]["value"]] == [CON]


@pytest.mark.parametrize("option", ["$skip", "$top"])
@pytest.mark.parametrize("value", ["99999999999999999999999", "9223372036854775808", "-1", "x"])
def test_skip_and_top_past_64_bits_are_400(reader: Api, option: str, value: str) -> None:
    answer = reader.get("finops", "CustomersV2", params={option: value})

    assert answer.status_code == 400
    message = error_of(answer)["message"]
    assert f"Invalid value '{value}' for {option} query option" in message


def test_the_largest_skip_reads_nothing(reader: Api) -> None:
    answer = reader.get("finops", "CustomersV2", params={"$skip": str(2**63 - 1)})

    assert answer.status_code == 200
    assert answer.json()["value"] == []


@pytest.mark.parametrize(
    "token",
    [
        "eyJhIjoxfQ",  # {"a":1}: not a token this service gave
        "W251bGwsLTEsbnVsbF0",  # [null,-1,null]: a negative offset
        "W251bGwsOTk5OTk5OTk5OTk5OTk5OTk5OTk5LG51bGxd",  # an offset past 64 bits
        "W1tbW1tbXV1dXV1dLDAsbnVsbF0",  # [[[[[[]]]]]],0,null]: nested
        "!!!",
    ],
)
def test_a_forged_skiptoken_is_a_400(reader: Api, token: str) -> None:
    answer = reader.get("sales", "contacts", params={"$skiptoken": token})

    assert answer.status_code == 400
    assert "$skiptoken is not valid" in error_of(answer)["message"]


@pytest.mark.parametrize(
    ("service", "path", "option", "message", "code"),
    [
        ("sales", "contacts", "$foo", "The query parameter $foo is not supported.", "0x80060888"),
        ("sales", "contacts", "foo", "The query parameter foo is not supported.", "0x80060888"),
        ("sales", "contacts", "$skip", "The query parameter $skip is not supported.", "0x80060888"),
        ("sales", f"contacts({CON})", "$bar", "The query parameter $bar is not supported.", None),
        ("sales", "contacts", "savedQuery", "does not support the query option savedQuery", None),
        ("sales", "contacts", "@p1", "does not support parameter aliases", None),
        ("finops", "CustomersV2", "$foo", "The query parameter '$foo' is not supported.", ""),
        ("finops", "CustomersV2", "crosscompany", "'crosscompany' is not supported.", ""),
        ("cds", "Contact", "$expand", "does not support the query option $expand", ""),
    ],
)
def test_an_unknown_query_option_is_refused_as_the_service_refuses_it(
    reader: Api, service: str, path: str, option: str, message: str, code: str | None
) -> None:
    answer = reader.get(service, path, params={option: "1"})

    assert answer.status_code == 400
    error = error_of(answer)
    assert message in error["message"]
    assert error["code"] == (code if code is not None else "0x80060888")


def test_an_unknown_query_option_in_a_batch_part_is_refused(reader: Api) -> None:
    parts = reader.batch("sales", [("GET", "contacts?$foo=1", None), ("GET", "contacts", None)])

    assert parts[0]["status"] == 400
    assert "$foo is not supported" in parts[0]["json"]["error"]["message"]


def test_a_repeated_query_option_is_refused(reader: Api) -> None:
    answer = reader.get("sales", "contacts?$top=1&$top=2")

    assert answer.status_code == 400
    assert "Query option '$top' was specified more than once" in error_of(answer)["message"]


def test_count_takes_true_or_false(reader: Api) -> None:
    answer = reader.get("finops", "CustomersV2", params={"$count": "yes"})

    assert answer.status_code == 400
    assert "Invalid value 'yes' for $count" in error_of(answer)["message"]


def test_the_query_options_the_connectors_send_are_taken(reader: Api) -> None:
    sales = reader.get(
        "sales",
        "contacts",
        params={"$select": "lastname", "$filter": "lastname eq 'Lee'", "$orderby": "lastname"},
    )
    finops = reader.get(
        "finops",
        "CustomersV2",
        params={"cross-company": "true", "$top": "1", "$count": "true", "$skip": "0"},
    )

    assert sales.status_code == 200, sales.text
    assert [r["lastname"] for r in sales.json()["value"]] == ["Lee"]
    assert finops.status_code == 200, finops.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nest more than 100 levels deep"),
        (b'{"lastname": ' + b"[" * 101 + b"]" * 101 + b"}", "line 1 column 113"),
        (b'{"lastname": NaN}', "NaN is not a JSON number"),
        (b'{"lastname": "x", "creditlimit": 1e400}', "out of range"),
        (b'{"lastname": "\\ud800"}', "half of a UTF-16 surrogate pair at lastname"),
        (b'{"lastname": ' + b"9" * 5000 + b"}", "more than 40 digits"),
        (b'{"lastname": "\xff"}', "not valid UTF-8"),
        (b"\x00" * 64, "not valid JSON"),
        (b'{"lastname": "A", "lastname": "B"}', "multiple properties with the name 'lastname'"),
    ],
    ids=[
        "100,000 deep",
        "101 deep",
        "NaN",
        "1e400",
        "lone surrogate",
        "5000 digits",
        "0xff",
        "NUL",
        "a name twice",
    ],
)
@pytest.mark.parametrize(("service", "path"), [("sales", "contacts"), ("finops", "CustomersV2")])
def test_bodies_no_service_reads_are_400(
    api: Api, service: str, path: str, body: bytes, words: str
) -> None:
    answer = api.request(
        service, "POST", path, content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 400, answer.text
    assert words in error_of(answer)["message"]


def test_a_body_over_the_limit_is_a_413(api: Api) -> None:
    filler = "x" * 1000
    records = (MAX_BODY // len(filler)) + 10
    body = json.dumps({"lastname": "Big", "description": [filler] * records}).encode()

    answer = api.request(
        "sales", "POST", "contacts", content=body, headers={"Content-Type": "application/json"}
    )

    assert len(body) > MAX_BODY
    assert answer.status_code == 413
    assert f"limit of {MAX_BODY:,} bytes" in error_of(answer)["message"]
    # The emulator goes on answering.
    assert api.get("sales", f"accounts({ACC})").status_code == 200


def test_a_body_declared_far_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    running = api.running
    with (
        socket.create_connection(("127.0.0.1", running.port)) as raw,
        tls(running).wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(
            b"POST /sales/api/data/v9.2/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{"
        )
        received = b""
        while chunk := conn.recv(65536):  # the server closes the connection after its answer
            received += chunk
        answer = received.decode()

    assert answer.startswith("HTTP/1.1 413 ")
    assert "connection: close" in answer.lower()
    assert f"limit of {MAX_BODY:,} bytes" in answer


def test_an_endless_body_ends_the_connection(api: Api) -> None:
    def endless() -> Iterator[bytes]:
        yield b'{"lastname": "'
        while True:
            yield b"x" * (1 << 20)

    # The server answers and closes the connection mid-body; httpx reads that answer.
    answer = api.request(
        "sales", "POST", "contacts", content=endless(), headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 413
    assert api.get("sales", f"accounts({ACC})").status_code == 200


def test_a_load_sized_body_under_the_limit_is_taken(api: Api) -> None:
    body = json.dumps({"lastname": "Fits", "description": "y" * 1000}).encode()

    answer = api.request(
        "sales", "POST", "contacts", content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code in (201, 204), answer.text


@pytest.mark.parametrize("levels", [900, 5000])
def test_a_deep_body_in_a_change_set_is_refused(api: Api, levels: int) -> None:
    # The second request refers to the first ($1), so the batch reads its body to resolve
    # the reference before the service reads it: both readers meet the deep body.
    second = {"lastname": "Second", "description": "$1", "deep": "DEEP"}
    items = [[("POST", "contacts", {"lastname": "First"}), ("POST", "contacts", second)]]
    content_type, body = batch_body(items)
    body = body.replace(b'"DEEP"', b"[" * levels + b"]" * levels)

    answer = api.request(
        "sales", "POST", "$batch", headers={"Content-Type": content_type}, content=body
    )

    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 200:
        assert [p["status"] for p in read_batch(answer)] == [400]
    assert "nest" in answer.text
    names = [r["lastname"] for r in api.get("sales", "contacts").json()["value"]]
    assert "First" not in names  # the change set was not written


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("finops", f"CustomersV2(dataAreaId='usmf',CustomerAccount={'9' * 23})"),
        ("sales", f"contacts({'9' * 23})"),
    ],
)
def test_a_key_past_64_bits_is_a_400(reader: Api, service: str, path: str) -> None:
    answer = reader.get(service, path)

    assert answer.status_code == 400
    assert "Bad key value" in error_of(answer)["message"]


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]], ids=["object", "array"])
def test_a_nested_value_in_an_fo_body_is_a_400(api: Api, value: object) -> None:
    body = {"dataAreaId": "usmf", "CustomerAccount": value, "CustomerGroupId": "10"}

    answer = api.request("finops", "POST", "CustomersV2", json=body)

    assert answer.status_code == 400
    assert "The property 'CustomerAccount' takes a single value" in error_of(answer)["message"]
