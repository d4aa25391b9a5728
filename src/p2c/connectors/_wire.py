"""The wire format of the HTTP connectors: a call, its answer, error bodies, and the
multipart ``$batch`` request and response bodies of OData."""

from __future__ import annotations

__all__ = [
    "Answer",
    "Call",
    "batch_part",
    "error_message",
    "json_or_none",
    "parse_batch_response",
    "text_of",
]

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request: method, URL (relative to the API root, or absolute), JSON body, headers."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    """What came back for one call; ``status`` 0 when nothing did (the connection failed)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    text: str = ""
    exhausted: bool = False  # still throttled or failing when the retries were spent
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error_message(answer: Answer) -> str:
    """The innermost message of a Dataverse or F&O error body (F&O puts the Infolog text in
    ``innererror.message``; Dataverse has only ``error.message``)."""
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = str(error.get("message") or "")
        inner = error.get("innererror")
        while isinstance(inner, dict):
            if inner.get("message"):
                message = str(inner["message"])
            inner = inner.get("internalexception") or inner.get("innererror")
        return message or f"HTTP {answer.status}"
    if answer.status == 0:
        return answer.text or "no answer"
    return (answer.text or "").strip()[:500] or f"HTTP {answer.status}"


def batch_part(url: str, call: Call) -> str:
    """One request of a ``$batch`` body, as HTTP text."""
    lines = [f"{call.method} {url} HTTP/1.1", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in call.headers.items()]
    if call.body is not None:
        lines.append("Content-Type: application/json")
        return "\r\n".join(lines) + "\r\n\r\n" + json.dumps(call.body)
    return "\r\n".join(lines) + "\r\n\r\n"


def _boundary(content_type: str) -> str | None:
    for piece in content_type.split(";"):
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    return None


def parse_batch_response(text: str, content_type: str) -> list[Answer]:
    """The responses of a ``$batch`` answer, in order (change sets flattened)."""
    boundary = _boundary(content_type)
    if boundary is None:
        return []
    answers: list[Answer] = []
    for part in text.split(f"--{boundary}")[1:]:
        if part.startswith("--"):
            break
        head, _, rest = part.lstrip("\r\n").partition("\r\n\r\n")
        if not _:
            head, _, rest = part.lstrip("\n").partition("\n\n")
        headers = _header_map(head)
        inner_type = headers.get("content-type", "")
        if inner_type.startswith("multipart/mixed"):
            answers += parse_batch_response(rest, inner_type)
        else:
            answers.append(_parse_http_response(rest))
    return answers


def _header_map(head: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _parse_http_response(text: str) -> Answer:
    text = text.lstrip("\r\n")
    status_line, _, rest = text.partition("\n")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if "\r\n\r\n" in rest:
        head, _, body = rest.partition("\r\n\r\n")
    else:
        head, _, body = rest.partition("\n\n")
    headers = _header_map(head)
    body = body.strip()
    return Answer(status, headers, json_or_none(body.encode("utf-8")), body)


def json_or_none(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
