"""Dataverse query functions in ``$filter`` (``Microsoft.Dynamics.CRM.In(PropertyName='x',
PropertyValues=["a","b"])`` and the date functions), and the query options a request takes.

Each function is rewritten into the plain comparisons it means before the filter is parsed,
so it runs where every filter runs (pushed down to SQL). Dates are compared in UTC, the time
zone of the emulator's user (INFERRED: Dataverse uses the user's time zone for day bounds).
A function the emulator does not evaluate is refused with 400, never ignored.
"""

from __future__ import annotations

__all__ = ["check_options", "rewrite_functions"]

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from p2c.emulator._http import ApiError, Call

_CALL = re.compile(
    r"Microsoft\.Dynamics\.CRM\.(?P<name>[A-Za-z]+)\("
    r"(?P<args>(?:'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"|[^()'\"])*)\)"
)
_ARG = re.compile(
    r"\s*(?P<name>[A-Za-z]+)\s*=\s*(?P<value>'(?:[^']|'')*'|\[[^\]]*\]|[^,]+)\s*(?:,|$)"
)


def check_options(call: Call, allowed: set[str]) -> None:
    """400 for a query option this request does not take, though the service takes it on
    other requests (``$orderby`` on a single record, say); options no request takes were
    refused before routing (``_options.refuse_unknown_options``)."""
    for option in call.query:
        if option not in allowed and not option.startswith("@"):
            raise ApiError(400, f"The query parameter {option} is not supported.", "0x80060888")


def _now() -> datetime:
    return datetime.now(UTC)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _literal(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _values(text: str) -> list[str]:
    try:
        values = json.loads(text)
    except ValueError:
        raise ApiError(
            400, f"PropertyValues {text} is not a collection of strings.", "0x80060888"
        ) from None
    if not isinstance(values, list) or not values:
        raise ApiError(400, "PropertyValues needs at least one value.", "0x80060888")
    return [str(v) for v in values]


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _date(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip("'").replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{text} is not a date.", "0x80060888") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(text: str) -> int:
    try:
        return int(text.strip("'"))
    except ValueError:
        raise ApiError(400, f"PropertyValue {text} is not a whole number.", "0x80060888") from None


def _range(name: str, low: datetime, high: datetime, inclusive: bool = False) -> str:
    upper = "le" if inclusive else "lt"
    return f"({name} ge {_literal(low)} and {name} {upper} {_literal(high)})"


def _in(name: str, args: dict[str, str], negate: bool) -> str:
    values = _values(args.get("PropertyValues", ""))
    if negate:
        return "(" + " and ".join(f"{name} ne {_quoted(v)}" for v in values) + ")"
    return "(" + " or ".join(f"{name} eq {_quoted(v)}" for v in values) + ")"


def _between(name: str, args: dict[str, str], negate: bool) -> str:
    values = _values(args.get("PropertyValues", ""))
    if len(values) != 2:
        raise ApiError(400, "Between takes two PropertyValues.", "0x80060888")
    low, high = (_quoted(v) for v in values)
    if negate:
        return f"({name} lt {low} or {name} gt {high})"
    return f"({name} ge {low} and {name} le {high})"


def _dates(function: str, name: str, args: dict[str, str]) -> str | None:
    now = _now()
    today = _day(now)
    day = timedelta(days=1)
    fixed: dict[str, Callable[[], str]] = {
        "Today": lambda: _range(name, today, today + day),
        "Yesterday": lambda: _range(name, today - day, today),
        "Tomorrow": lambda: _range(name, today + day, today + 2 * day),
    }
    if function in fixed:
        return fixed[function]()
    value = args.get("PropertyValue")
    if value is None:
        return None
    if function == "On":
        start = _day(_date(value))
        return _range(name, start, start + day)
    if function == "OnOrAfter":
        return f"({name} ge {_literal(_day(_date(value)))})"
    if function == "OnOrBefore":
        return f"({name} lt {_literal(_day(_date(value)) + day)})"
    counted: dict[str, Callable[[int], str]] = {
        "LastXDays": lambda n: _range(name, today - n * day, now, inclusive=True),
        "NextXDays": lambda n: _range(name, now, today + (n + 1) * day),
        "LastXHours": lambda n: _range(name, now - timedelta(hours=n), now, inclusive=True),
        "NextXHours": lambda n: _range(name, now, now + timedelta(hours=n), inclusive=True),
    }
    if function in counted:
        return counted[function](_number(value))
    return None


def _arguments(text: str) -> dict[str, str]:
    args: dict[str, str] = {}
    for match in _ARG.finditer(text):
        value = match["value"].strip()
        args[match["name"]] = value
    return args


def _rewrite(match: re.Match[str]) -> str:
    function = match["name"]
    args = _arguments(match["args"])
    prop = args.get("PropertyName", "")
    if not (len(prop) >= 2 and prop[0] == prop[-1] == "'"):
        raise ApiError(
            400, f"Microsoft.Dynamics.CRM.{function} needs PropertyName='column'.", "0x80060888"
        )
    name = prop[1:-1]
    if function in ("In", "NotIn"):
        return _in(name, args, function == "NotIn")
    if function in ("Between", "NotBetween"):
        return _between(name, args, function == "NotBetween")
    rewritten = _dates(function, name, args)
    if rewritten is None:
        raise ApiError(
            400,
            f"The query function Microsoft.Dynamics.CRM.{function} is not supported by the "
            "emulator; it evaluates In, NotIn, Between, NotBetween, Today, Yesterday, Tomorrow, "
            "On, OnOrAfter, OnOrBefore, LastXDays, NextXDays, LastXHours and NextXHours.",
            "0x80060888",
        )
    return rewritten


def rewrite_functions(text: str) -> str:
    """``$filter`` text with each Dataverse query function replaced by the comparisons it
    means."""
    if "Microsoft.Dynamics.CRM." not in text:
        return text
    return _CALL.sub(_rewrite, text)
