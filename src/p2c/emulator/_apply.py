"""``$apply`` on Dataverse collections: ``aggregate`` (``$count as n``, and ``column with
sum|average|min|max|countdistinct as alias``), ``groupby((columns))`` with an optional
``aggregate``, and ``filter(...)`` before them, joined by ``/``. Other transformations are
refused with 400. Values are computed over the filtered rows, as Dataverse's aggregate
queries do (at most 50,000 rows, its aggregate limit).
"""

from __future__ import annotations

__all__ = ["apply_reply"]

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from p2c.dynamics import Entity, FieldType
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import split_top_level

if TYPE_CHECKING:
    from p2c.emulator._dataverse import DataverseFace

_LIMIT = 50000
_STEP = re.compile(r"^(?P<name>[a-z]+)\((?P<body>.*)\)$", re.DOTALL)
_AGGREGATE = re.compile(
    r"^(?:\$count|(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s+with\s+(?P<method>[a-z]+))"
    r"\s+as\s+(?P<alias>[A-Za-z_][A-Za-z0-9_]*)$"
)
_METHODS: dict[str, Callable[[list[Any]], Any]] = {
    "sum": lambda v: sum(v) if v else None,
    "average": lambda v: sum(v) / len(v) if v else None,
    "min": lambda v: min(v) if v else None,
    "max": lambda v: max(v) if v else None,
    "countdistinct": lambda v: len(set(v)),
}
Record = dict[str, Any]
Aggregate = tuple[str | None, str, str]  # (column or None for $count, method, alias)


def _refuse(message: str) -> ApiError:
    return ApiError(400, message, "0x80060888")


def _steps(text: str) -> list[tuple[str, str]]:
    steps = []
    for part in split_top_level(text, "/"):
        match = _STEP.match(part.strip())
        if not match or match["name"] not in ("filter", "groupby", "aggregate"):
            raise _refuse(
                f"The $apply transformation '{part}' is not supported by the emulator; it "
                "evaluates filter, groupby and aggregate."
            )
        steps.append((match["name"], match["body"].strip()))
    return steps


def _aggregates(body: str) -> list[Aggregate]:
    found: list[Aggregate] = []
    for part in split_top_level(body):
        match = _AGGREGATE.match(part.strip())
        if not match:
            raise _refuse(f"Cannot read the aggregate '{part}'.")
        method = match["method"] or "count"
        if match["column"] and method not in _METHODS:
            raise _refuse(f"The aggregation method '{method}' is not supported.")
        found.append((match["column"], method, match["alias"]))
    return found


def _groupby(body: str) -> tuple[list[str], list[Aggregate]]:
    parts = split_top_level(body)
    if not parts or not (parts[0].startswith("(") and parts[0].endswith(")")):
        raise _refuse(f"Cannot read the groupby '{body}': expected groupby((columns)).")
    columns = [c.strip() for c in parts[0][1:-1].split(",") if c.strip()]
    aggregates: list[Aggregate] = []
    for extra in parts[1:]:
        match = _STEP.match(extra)
        if not match or match["name"] != "aggregate":
            raise _refuse(f"Cannot read '{extra}' in groupby: only aggregate(...) may follow.")
        aggregates += _aggregates(match["body"])
    return columns, aggregates


def apply_reply(face: DataverseFace, call: Call, entity: Entity) -> Reply:
    """The answer to ``GET <set>?$apply=...``."""
    for option in call.query:
        if option.startswith("$") and option != "$apply":
            raise _refuse(f"The query option {option} cannot be used with $apply.")
    filter_text: str | None = None
    columns: list[str] = []
    aggregates: list[Aggregate] = []
    for name, body in _steps(call.query["$apply"]):
        if name == "filter":
            if columns or aggregates or filter_text:
                raise _refuse("The emulator takes one filter(...) first in $apply.")
            filter_text = body
        elif name == "groupby":
            columns, aggregates = _groupby(body)
        else:
            aggregates = _aggregates(body)
    visible = face.pool.get().visible_columns(entity)
    needed = list(dict.fromkeys([*columns, *(c for c, _, _ in aggregates if c)]))
    for column in needed:
        f = entity.by_name.get(column.removeprefix("_").removesuffix("_value"))
        if f is None or f.name not in visible:
            raise _refuse(
                f"Could not find a property named '{column}' on type "
                f"'Microsoft.Dynamics.CRM.{entity.name}'."
            )
    stored = {c: c.removeprefix("_").removesuffix("_value") for c in needed}
    where = face.where_of(entity, filter_text)
    rows = face.select_rows(entity, [entity.key[0], *stored.values()], where, limit=_LIMIT + 1)
    if len(rows) > _LIMIT:
        raise ApiError(400, "AggregateQueryRecordLimit exceeded. Cannot perform this operation.")
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for row in rows:
        groups.setdefault(tuple(row[stored[c]] for c in columns), []).append(row)
    if not columns:
        groups = {(): rows}
    value = []
    for group_key, members in groups.items():
        record: Record = dict(zip(columns, group_key, strict=True))
        for over, method, alias in aggregates:
            if over is None:
                record[alias] = len(members)
                continue
            f = entity.by_name[stored[over]]
            values = [m[stored[over]] for m in members if m[stored[over]] is not None]
            if method in ("sum", "average") and f.type not in (FieldType.INT, FieldType.MONEY):
                raise _refuse(f"The column {over} cannot be aggregated with {method}.")
            record[alias] = _METHODS[method](values)
        value.append(record)
    value.sort(key=lambda r: tuple((v is not None, v) for v in (r[c] for c in columns)))
    names = ",".join([*columns, *(a for _, _, a in aggregates)])
    context = f"{call.root}$metadata#{entity.entity_set}({names})"
    return json_reply(200, {"@odata.context": context, "value": value})
