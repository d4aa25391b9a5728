"""Server-driven paging: which slice of a collection a request reads, and the next link.

Without ``$orderby`` (and ``$skip``) pages continue after the last key read (keyset paging on
the primary key), so every record is returned exactly once even while records are added.
With ``$orderby`` or ``$skip`` the token carries an offset.
"""

from __future__ import annotations

__all__ = ["Window", "follow", "read_rows", "window"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from p2c._errors import ConfigError
from p2c.dynamics import Entity
from p2c.emulator._http import ApiError, Call
from p2c.emulator._options import PageToken, decode_token, next_link, page_size
from p2c.odata import Filter
from p2c.sandbox import Store, select


@dataclass(frozen=True)
class Window:
    """The slice to read: after a key or from an offset, ``limit`` records (read one more
    to know whether there is a next page); ``left`` of a ``$top``."""

    after: list[Any] | None
    offset: int
    limit: int
    left: int | None
    keyset: bool


_INT64_MAX = 2**63 - 1


def _whole(call: Call, option: str) -> int | None:
    """``$top`` or ``$skip``: a whole number from 0 to 2^63-1 (Edm.Int64, what SQLite's
    LIMIT and OFFSET take), else a 400 in ODataLib's words."""
    text = call.query.get(option)
    if text is None:
        return None
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else -1
    if not 0 <= value <= _INT64_MAX:
        raise ApiError(
            400,
            f"Invalid value '{text[:40]}' for {option} query option found. The {option} query "
            "option requires a non-negative integer value (at most 9223372036854775807).",
        )
    return value


def window(
    call: Call, maximum: int, *, order: Sequence[tuple[str, bool]], allow_skip: bool
) -> Window:
    """The slice a request reads, in ``order`` (the ``$orderby`` columns, then the key)."""
    size = page_size(call, maximum)
    token_text = call.query.get("$skiptoken")
    if token_text:
        token = decode_token(token_text)
        after, offset, left = token.after, token.offset, token.left
    else:
        if "$skip" in call.query and not allow_skip:
            raise ApiError(400, "The query parameter $skip is not supported.", "0x80060888")
        after, offset, left = None, _whole(call, "$skip") or 0, _whole(call, "$top")
    limit = size if left is None else min(size, left)
    # Keyset paging needs an ascending order; a descending one pages by offset.
    ascending = not any(desc for _, desc in order)
    return Window(after, offset, limit, left, keyset=ascending and offset == 0)


def follow(
    call: Call,
    win: Window,
    rows: list[dict[str, Any]],
    key: Sequence[str],
    order: Sequence[tuple[str, bool]] = (),
) -> tuple[list[dict[str, Any]], str | None]:
    """The page's rows and the next link, if another page follows: after the last row's
    order values and key where it can (so every record comes once, however large the
    collection), else at an offset."""
    more = len(rows) > win.limit
    rows = rows[: win.limit]
    left = None if win.left is None else win.left - len(rows)
    if not more or (left is not None and left <= 0) or not rows:
        return rows, None
    names = [name for name, _ in order] + list(key)
    last = rows[-1]
    # NULLs sort first: after a row whose order values are all set, so are the next ones'.
    if win.keyset and all(last.get(n) is not None for n in names):
        token = PageToken(after=[last[n] for n in names], left=left)
    else:
        token = PageToken(offset=win.offset + len(rows), left=left)
    return rows, next_link(call, token)


def read_rows(
    store: Store,
    entity: Entity,
    columns: list[str],
    where: Filter | None,
    *,
    visible: set[str],
    resolve: Callable[[str], Entity],
    error_code: str,
    order: Sequence[tuple[str, bool]] = (),
    after: list[Any] | None = None,
    offset: int = 0,
    limit: int | None = None,
    fold_case: bool = False,
) -> list[dict[str, Any]]:
    """The rows of one slice; a column or filter the entity cannot take is a 400."""
    try:
        pages = select(
            store,
            entity,
            columns=columns,
            where=where,
            visible=visible,
            resolve=resolve,
            page_size=max(limit or 0, 1000),
            order=order,
            after=after,
            limit=limit,
            offset=offset,
            fold_case=fold_case,
        )
        return [row for page in pages for row in page]
    except ConfigError as error:
        raise ApiError(400, error.message, error_code) from None
