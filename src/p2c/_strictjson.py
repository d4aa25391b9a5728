"""JSON that others wrote, read within limits: a size, a nesting depth, the encodings that
Windows tools write, and a clear error with line and column for anything else.

- Encodings: UTF-8 with or without a byte order mark, UTF-16 and UTF-32 (with a BOM, or
  told apart by where the zero bytes fall, as RFC 4627 describes).
- Size: at most ``limit`` bytes are read, so an endless stream ends with an error.
- Nesting: at most :data:`MAX_DEPTH` arrays and objects inside one another. Python's own
  reader stops near 1,000 levels with a RecursionError; this one refuses past 100, so that
  nothing after it (messages, renderers) meets a structure deep enough to recurse on.
- ``NaN`` and ``Infinity`` are not JSON; :func:`loads` refuses them unless the caller wants
  to name the field itself (``allow_nan``).
"""

from __future__ import annotations

__all__ = [
    "MAX_DEPTH",
    "JsonProblem",
    "decode",
    "find_lone_surrogate",
    "loads",
    "printable",
    "read_limited",
]

import json
import math
import re
from collections.abc import Iterable
from typing import Any, BinaryIO

MAX_DEPTH = 100
"""How deep arrays and objects may nest."""

_CHUNK = 1 << 20
_DIGITS = 40  # no Dynamics number has more; Python reads at most 4,300
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonProblem(ValueError):
    """Why a text is not JSON p2c reads: the message says where (line and column) and why."""


def read_limited(stream: BinaryIO, limit: int, what: str) -> bytes:
    """All of ``stream``, or a JsonProblem once it passes ``limit`` bytes or shows that it is
    not text (NUL characters: a binary file or a device such as /dev/zero)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_CHUNK):
        if not chunks:
            _refuse_binary(chunk, what)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise JsonProblem(
                f"{what} is larger than the limit of {limit:,} bytes ({limit >> 20} MiB); "
                "is it the right file? Split a larger load into several files"
            )
    return b"".join(chunks)


def _refuse_binary(start: bytes, what: str) -> None:
    # A NUL character is never in JSON text (inside strings it must be escaped), in any of
    # its encodings; zero bytes that are half of a UTF-16 character decode to others.
    encoding = json.detect_encoding(start)
    if "\x00" in start[: 1 << 16].decode(encoding, errors="replace"):
        raise JsonProblem(
            f"{what} holds NUL characters: it is not JSON text (a binary file or a device?)"
        )


def decode(data: bytes, what: str) -> str:
    """The text of JSON bytes in UTF-8 (a BOM is allowed), UTF-16 or UTF-32."""
    encoding = json.detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode(encoding, errors="replace"))
        name = encoding.upper().replace("-SIG", "").replace("-LE", "").replace("-BE", "")
        raise JsonProblem(
            f"{what} line {line} column {column}: bytes {data[exc.start : exc.end].hex(' ')} "
            f"are not valid {name} ({exc.reason}); save the file as UTF-8 or UTF-16"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def loads(
    data: bytes | str, what: str, *, max_depth: int = MAX_DEPTH, allow_nan: bool = False
) -> Any:
    """Parse JSON within the nesting limit.

    Args:
        data: The JSON text, or its bytes in any encoding :func:`decode` reads.
        what: How messages name the text ("contacts.json", "The request body").
        max_depth: Most arrays and objects inside one another.
        allow_nan: Let ``NaN`` and ``Infinity`` through as floats, for a caller that
            reports them with their field.
    """
    text = decode(data, what) if isinstance(data, bytes) else data
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_whole,
            parse_float=float if allow_nan else _finite,
            parse_constant=None if allow_nan else _no_constant,
        )
    except RecursionError:
        raise _too_deep(text, what, max_depth) from None
    except _NotJson as exc:
        raise JsonProblem(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise JsonProblem(
            f"{what} line {exc.lineno} column {exc.colno}: {exc.msg}; the text is not valid JSON"
        ) from None
    if text.count("[") + text.count("{") > max_depth and _depth(document) > max_depth:
        raise _too_deep(text, what, max_depth)
    return document


class _NotJson(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, each name once: Python keeps the last of a repeated name silently."""
    made = dict(pairs)
    if len(made) < len(pairs):
        twice = _repeated(name for name, _ in pairs)
        raise _NotJson(
            f"multiple properties with the name {printable(twice)!r} were found in one object; "
            "duplicate property names are not allowed"
        )
    return made


def _repeated(names: Iterable[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return ""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number; give a number, or null for no value")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # past the largest float: read as infinity
        raise _NotJson(f"the number {_short(text)} is out of range")
    return number


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > _DIGITS:
        raise _NotJson(f"the number {_short(text)} has more than {_DIGITS} digits")
    return int(text)


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}… ({len(text)} characters)"


def _depth(document: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        inner = value.values() if type(value) is dict else value
        stack.extend((v, level + 1) for v in inner if type(v) is dict or type(v) is list)
    return deepest if type(document) in (dict, list) else 0


def _too_deep(text: str, what: str, limit: int) -> JsonProblem:
    depth = 0
    position = len(text)
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                position = match.start()
                break
        elif char in "]}":
            depth -= 1
    line, column = _line_column(text[:position])
    return JsonProblem(
        f"{what} line {line} column {column}: arrays and objects nest more than {limit} "
        "levels deep (the limit)"
    )


def _line_column(before: str) -> tuple[int, int]:
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def find_lone_surrogate(text: str, document: Any) -> list[str | int] | None:
    """Where a parsed document holds half of a UTF-16 surrogate pair (from a ``\\ud800``
    escape; nothing can store it): the keys and indexes down to that string, a key's name
    included. ``text`` is the JSON text, looked at first for such escapes at all."""
    if not _ESCAPED_SURROGATE.search(text):
        return None
    stack: list[tuple[list[str | int], Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not _storable(value):
            return path
        if isinstance(value, dict):
            for key, inner in value.items():
                if not _storable(key):
                    return [*path, key]
                stack.append(([*path, key], inner))
        elif isinstance(value, list):
            stack.extend(([*path, i], inner) for i, inner in enumerate(value))
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """Text that can be printed: a lone surrogate shown as its escape (``\\ud800``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
