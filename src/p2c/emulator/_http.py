"""Requests and answers inside the emulator, independent of the ASGI server.

A service face answers a :class:`Call` with a :class:`Reply`; ``$batch`` builds calls from
its parts and runs them through the same face, so a request means the same alone and in a
batch.
"""

from __future__ import annotations

__all__ = ["ApiError", "Call", "Reply", "json_reply", "reason"]

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from p2c._strictjson import JsonProblem, decode, find_lone_surrogate, loads, printable


@dataclass
class Call:
    """One request to a service, its path relative to the service root.

    Args:
        method: HTTP method, upper case.
        path: Resource path under the root, percent-decoded (``contacts(<id>)``).
        query: Query options, decoded.
        headers: Headers with lower-case names.
        body: Request body.
        root: Absolute URL of the service root, ending with ``/``.
        in_change_set: The call is part of a ``$batch`` change set.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    root: str
    in_change_set: bool = False

    def json(self) -> Any:
        """The body as JSON: nested at most 100 deep, no NaN or Infinity, no half of a
        surrogate pair; anything else is a 400 saying where."""
        if not self.body.strip():
            raise ApiError(400, "The request body is empty; a JSON object is expected.")
        try:
            text = decode(self.body, "The request body")
            document = loads(text, "The request body")
        except JsonProblem as exc:
            raise ApiError(400, f"{exc}.") from None
        where = find_lone_surrogate(text, document)
        if where is not None:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{printable(p)}" for p in where)
            at = path.lstrip(".") or "its top"
            raise ApiError(
                400,
                f"The request body holds half of a UTF-16 surrogate pair at {at}: "
                "a \\ud800-\\udfff escape without its partner.",
            )
        return document

    def prefers(self, token: str) -> str | None:
        """The value of a ``Prefer`` preference (``odata.maxpagesize``), "" when it has none."""
        for part in self.headers.get("prefer", "").split(","):
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == token:
                return value.strip().strip('"')
        return None


@dataclass
class Reply:
    """An answer: status, headers and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ApiError(Exception):
    """A request the service refuses; each face renders it in its own error shape.

    Args:
        status: HTTP status.
        message: The service's message.
        code: Dataverse error code (``0x80060888``); F&O leaves it empty.
        inner: F&O ``innererror`` (message and type).
        headers: Extra headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "",
        inner: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.inner = inner
        self.headers = headers or {}


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(
        status,
        {
            "Content-Type": "application/json; odata.metadata=minimal; charset=utf-8",
            "OData-Version": "4.0",
            **(headers or {}),
        },
        body,
    )


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
