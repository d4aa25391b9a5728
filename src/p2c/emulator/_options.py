"""OData pieces of a request: resource path, entity keys, query options, paging tokens.

``$filter`` text is parsed by :func:`p2c.odata.parse_filter`; the forms that parser does not
read but the services accept (unquoted GUIDs, ``Microsoft.Dynamics.DataEntities.NoYes'Yes'``)
are rewritten to plain literals first, outside of quoted strings.
"""

from __future__ import annotations

__all__ = [
    "INTERNAL_OPTIONS",
    "PageToken",
    "ParsedKey",
    "Resource",
    "decode_token",
    "encode_token",
    "map_filter",
    "next_link",
    "page_size",
    "parse_expand",
    "parse_filter_text",
    "parse_key",
    "parse_orderby",
    "parse_resource",
    "parse_select",
    "refuse_unknown_options",
    "split_top_level",
]

import base64
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from p2c._errors import ConfigError
from p2c._strictjson import loads
from p2c.emulator._http import ApiError, Call
from p2c.odata import Call as FilterCall
from p2c.odata import Compare, Filter, map_leaves, parse_filter

_RESOURCE = re.compile(
    r"^(?P<name>[A-Za-z_$][A-Za-z0-9_.$]*)(?:\((?P<key>.*)\))?(?:/(?P<tail>.+))?$"
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ENUM_LITERAL = re.compile(r"Microsoft\.Dynamics\.DataEntities\.[A-Za-z0-9_]+'((?:[^']|'')*)'")
_INT64_MAX = 2**63 - 1
ENUM_VALUE = re.compile(r"^Microsoft\.Dynamics\.DataEntities\.[A-Za-z0-9_]+'(?P<value>.*)'$")

ParsedKey = str | dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """``contacts(<key>)/$count``: the collection, the key text and what follows."""

    name: str
    key: str | None
    tail: str | None


# The query options each service takes here. Names outside these are refused, never ignored:
# OData services "MUST fail any request that contains unsupported OData query options".
_DATAVERSE_OPTIONS = frozenset(
    {
        "$select",
        "$filter",
        "$orderby",
        "$top",
        "$expand",
        "$count",
        "$skiptoken",
        "$deltatoken",
        "$apply",
        "fetchXml",
        "sql",
    }
)
_FINOPS_OPTIONS = frozenset(
    {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$skiptoken", "cross-company"}
)
# Options the real service takes and the emulator does not.
_NOT_EMULATED = {
    True: frozenset({"savedQuery", "userQuery", "$search", "$format", "$levels", "$compute"}),
    False: frozenset({"$expand", "$format"}),
}
INTERNAL_OPTIONS = frozenset({"p2c-trackfrom"})  # carried in the emulator's own next links


def refuse_unknown_options(call: Call, dataverse: bool) -> None:
    """A 400 for a query option the service does not take, in its wording (INFERRED: the
    ODataLib message Dataverse shows for ``$skip``; ASP.NET OData's, quoted, for F&O)."""
    known = _DATAVERSE_OPTIONS if dataverse else _FINOPS_OPTIONS
    code = "0x80060888" if dataverse else ""
    for name in call.query:
        if name in known or name in INTERNAL_OPTIONS:
            continue
        if name.startswith("@") and f"={name}" in call.path:
            continue  # a parameter alias of a function call: `Fn(Query=@q)?@q=...`
        if name in _NOT_EMULATED[dataverse] or name.startswith("@"):
            what = "parameter aliases" if name.startswith("@") else f"the query option {name}"
            raise ApiError(400, f"The emulator does not support {what}.", code)
        shown = name if dataverse else f"'{name}'"
        raise ApiError(400, f"The query parameter {shown} is not supported.", code)
    count = call.query.get("$count")
    if count is not None and count not in ("true", "false"):
        raise ApiError(
            400,
            f"Invalid value '{count}' for $count query option found. Valid values are "
            "'true' and 'false'.",
            code,
        )


def parse_resource(path: str) -> Resource:
    match = _RESOURCE.match(path)
    if not match:
        raise ApiError(404, f"Resource not found for the segment '{path}'.", "0x8006088a")
    return Resource(match["name"], match["key"], match["tail"])


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at ``separator`` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_key(text: str) -> ParsedKey:
    """``<guid>`` or ``name='value',name2='value2'`` (values quoted, numbers bare)."""
    text = text.strip()
    if "=" not in text:
        single: ParsedKey = _literal(text)
        return single
    key: dict[str, Any] = {}
    for part in split_top_level(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ApiError(400, f"Bad key segment '{text}': cannot read '{part}'.", "0x80060888")
        key[name.strip()] = _literal(value.strip())
    return key


def _literal(value: str) -> Any:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    enum = ENUM_VALUE.match(value)
    if enum:
        return enum["value"].replace("''", "'")
    if _GUID.fullmatch(value):
        return value.lower()
    if re.fullmatch(r"-?\d{1,19}", value) and -_INT64_MAX - 1 <= int(value) <= _INT64_MAX:
        return int(value)
    raise ApiError(400, f"Bad key value {value!r}: quote text as 'value'.", "0x80060888")


def parse_select(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for part in split_top_level(text or ""):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ApiError(400, f"Syntax error in $orderby at '{part}'.", "0x80060888")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def parse_expand(text: str | None) -> list[tuple[str, dict[str, str]]]:
    """``nav($select=a,b),other`` -> [(nav, {"$select": "a,b"}), (other, {})]."""
    expands: list[tuple[str, dict[str, str]]] = []
    for part in split_top_level(text or ""):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", part, re.DOTALL)
        if not match:
            raise ApiError(400, f"Syntax error in $expand at '{part}'.", "0x80060888")
        options: dict[str, str] = {}
        for option in split_top_level(match[2] or "", ";"):
            name, _, value = option.partition("=")
            options[name.strip()] = value.strip()
        expands.append((match[1], options))
    return expands


def parse_filter_text(text: str) -> Filter:
    """Parse ``$filter``; GUIDs and F&O enum literals become quoted strings first."""
    rewritten: list[str] = []
    pieces = re.split(r"('(?:[^']|'')*')", text)
    for index, piece in enumerate(pieces):
        if index % 2:  # a quoted string: kept as is
            rewritten.append(piece)
            continue
        piece = _GUID.sub(lambda m: f"'{m[0].lower()}'", piece)
        rewritten.append(piece)
    joined = "".join(rewritten)
    # Enum literals contain a quoted string, so they are matched on the whole text.
    joined = _ENUM_LITERAL.sub(lambda m: f"'{m[1]}'", joined)
    try:
        return parse_filter(joined)
    except ConfigError as error:
        raise ApiError(400, error.message.replace(repr(joined), repr(text)), "0x80060888") from None


def map_filter(tree: Filter, rename: Callable[[str, Any], tuple[str, Any]]) -> Filter:
    """The tree with each (field, value) replaced by ``rename(field, value)``."""

    def change(node: Compare | FilterCall) -> Filter:
        field, value = rename(node.field, node.value)
        if isinstance(node, FilterCall):
            return FilterCall(node.function, field, str(value))
        return dataclasses.replace(node, field=field, value=value)

    return map_leaves(tree, change)


@dataclass(frozen=True)
class PageToken:
    """Where the next page starts: after a key, or at an offset; ``left`` of a ``$top``."""

    after: list[Any] | None = None
    offset: int = 0
    left: int | None = None


def encode_token(token: PageToken) -> str:
    raw = json.dumps([token.after, token.offset, token.left], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(text: str) -> PageToken:
    """The token of a next link, checked: the emulator made it, but a client may send any."""
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        after, offset, left = loads(raw, "The $skiptoken", max_depth=2)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, f"The $skiptoken is not valid: {exc}.", "0x80060888") from None
    scalars = (str, int, float, bool, type(None))
    if (
        not (
            after is None
            or (isinstance(after, list) and all(isinstance(v, scalars) for v in after))
        )
        or type(offset) is not int
        or not 0 <= offset <= _INT64_MAX
        or not (left is None or (type(left) is int and 0 <= left <= _INT64_MAX))
    ):
        raise ApiError(
            400, "The $skiptoken is not valid: it is not one the service gave.", "0x80060888"
        )
    return PageToken(after, offset, left)


def page_size(call: Call, maximum: int) -> int:
    """``Prefer: odata.maxpagesize=N``, at most ``maximum``."""
    preferred = call.prefers("odata.maxpagesize")
    if preferred:
        try:
            return max(1, min(int(preferred), maximum))
        except ValueError:
            raise ApiError(
                400, f"The odata.maxpagesize preference {preferred!r} is not a number."
            ) from None
    return maximum


def next_link(call: Call, token: PageToken) -> str:
    query = {k: v for k, v in call.query.items() if k not in ("$skiptoken", "$skip", "$top")}
    query["$skiptoken"] = encode_token(token)
    return call.root + quote(call.path, safe="()/,'=$") + "?" + urlencode(query, quote_via=quote)
