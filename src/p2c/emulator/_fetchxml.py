"""FetchXML queries on the Dataverse face: ``GET contacts?fetchXml=<fetch …>``.

The emulator reads ``<attribute>`` and ``<all-attributes>``, ``<filter>`` (``and``/``or``,
nested) with ``<condition>`` (the comparison, like, in, between, null and common date
operators), ``<order>``, ``top``, ``count`` and ``page`` with the paging cookie,
``returntotalrecordcount``, and one level of ``<link-entity>`` along a lookup of the queried
table (its attributes come back as ``alias.column``). The query becomes the same filter tree
as ``$filter`` and runs in SQL. Anything else (aggregates, nested links, other operators) is
refused with 400, never ignored.
"""

from __future__ import annotations

__all__ = ["fetch_reply"]

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from p2c.dynamics import SALES, Entity, Field, FieldType
from p2c.emulator._annotations import FORMATTED, VERSION, Annotations, etag, formatted
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._query_functions import rewrite_functions
from p2c.odata import Call as TextCall
from p2c.odata import Compare, Filter, Logical, Not, parse_filter

if TYPE_CHECKING:
    from p2c.emulator._dataverse import DataverseFace

_CODE = "0x80041103"
_DEFAULT_PAGE = 5000
_COMPARE = {"eq": "eq", "ne": "ne", "neq": "ne", "gt": "gt", "ge": "ge", "lt": "lt", "le": "le"}
_DATE_FUNCTIONS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "tomorrow": "Tomorrow",
    "on": "On",
    "on-or-after": "OnOrAfter",
    "on-or-before": "OnOrBefore",
    "last-x-days": "LastXDays",
    "next-x-days": "NextXDays",
    "last-x-hours": "LastXHours",
    "next-x-hours": "NextXHours",
}
_FETCH_ATTRIBUTES = {
    "version",
    "output-format",
    "mapping",
    "distinct",
    "no-lock",
    "top",
    "count",
    "page",
    "paging-cookie",
    "returntotalrecordcount",
}
Record = dict[str, Any]


def _refuse(message: str) -> ApiError:
    return ApiError(400, message, _CODE)


@dataclass
class _Plan:
    entity: Entity
    visible: set[str]
    visible_of: Callable[[Entity], set[str]]
    columns: list[str] = field(default_factory=list)  # stored names and lookup paths
    shown: list[tuple[str, str, Field]] = field(default_factory=list)  # (key, column, field)
    where: Filter | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)


def fetch_reply(face: DataverseFace, call: Call, entity: Entity) -> Reply:
    """The page of a FetchXML query and its paging annotations."""
    for option in call.query:
        if option != "fetchXml" and not option.startswith("@"):
            raise _refuse(f"The query parameter {option} cannot be used with fetchXml.")
    try:
        fetch = ET.fromstring(call.query["fetchXml"])
    except ET.ParseError as exc:
        raise _refuse(f"The fetchXml is not well-formed XML: {exc}.") from None
    if fetch.tag != "fetch":
        raise _refuse("The fetchXml must start with a <fetch> element.")
    unknown = set(fetch.attrib) - _FETCH_ATTRIBUTES
    if unknown:
        raise _refuse(f"The emulator does not evaluate the fetch attribute {sorted(unknown)[0]}.")
    nodes = [c for c in fetch if c.tag == "entity"]
    if len(nodes) != 1 or len(fetch) != 1:
        raise _refuse("A fetch holds one <entity> element.")
    node = nodes[0]
    if node.get("name") != entity.name:
        raise _refuse(
            f"The fetchXml queries '{node.get('name')}', but the request is for "
            f"{entity.entity_set}."
        )
    sales = face.pool.get()
    plan = _Plan(entity, sales.visible_columns(entity), sales.visible_columns)
    _read_entity(plan, node)
    return _page(face, call, plan, fetch)


def _field(plan: _Plan, entity: Entity, name: str | None, visible: set[str]) -> Field:
    f = entity.by_name.get(name or "")
    if f is None or f.name not in visible:
        raise _refuse(f"'{entity.name}' entity doesn't contain attribute with Name = '{name}'.")
    return f


def _read_entity(plan: _Plan, node: ET.Element) -> None:
    entity = plan.entity
    for child in node:
        if child.tag == "attribute":
            f = _field(plan, entity, child.get("name"), plan.visible)
            _show(plan, f, f.name, f"_{f.name}_value" if f.type is FieldType.LOOKUP else f.name)
        elif child.tag == "all-attributes":
            for f in entity.fields:
                if f.name in plan.visible:
                    key = f"_{f.name}_value" if f.type is FieldType.LOOKUP else f.name
                    _show(plan, f, f.name, key)
        elif child.tag == "order":
            if child.get("alias"):
                raise _refuse("The emulator does not order by an aggregate alias.")
            f = _field(plan, entity, child.get("attribute"), plan.visible)
            plan.order.append((f.name, child.get("descending", "false").lower() == "true"))
        elif child.tag == "filter":
            plan.where = _and(plan.where, _filter(child, lambda n: _column(plan, n)))
        elif child.tag == "link-entity":
            _link(plan, child)
        else:
            raise _refuse(f"The emulator does not evaluate <{child.tag}> in <entity>.")


def _show(plan: _Plan, f: Field, column: str, key: str) -> None:
    plan.columns.append(column)
    if f.polymorphic and "." not in column:
        plan.columns.append(column + "type")
    plan.shown.append((key, column, f))


def _column(plan: _Plan, name: str | None) -> tuple[str, Field]:
    f = _field(plan, plan.entity, name, plan.visible)
    return f.name, f


def _link(plan: _Plan, node: ET.Element) -> None:
    entity = plan.entity
    target = SALES.find(node.get("name") or "")
    lookup = entity.by_name.get(node.get("to") or "")
    if target is None or lookup is None or target.name not in lookup.targets:
        raise _refuse(
            "The emulator links only along a lookup of the queried table: <link-entity "
            f"name='{node.get('name')}' to='{node.get('to')}'> is not one."
        )
    if node.get("from") not in (None, target.key[0]):
        raise _refuse(f"A link to {target.name} must be from its key {target.key[0]}.")
    nav = f"{lookup.name}_{target.name}" if lookup.polymorphic else lookup.name
    alias = node.get("alias") or target.name
    kind = node.get("link-type", "inner")
    if kind not in ("inner", "outer"):
        raise _refuse(f"The emulator does not evaluate link-type '{kind}'.")
    visible = plan.visible_of(target)

    def column(name: str | None) -> tuple[str, Field]:
        f = _field(plan, target, name, visible)
        if f.type is FieldType.LOOKUP:
            raise _refuse("The emulator does not read lookups of a linked table.")
        return f"{nav}.{f.name}", f

    for child in node:
        if child.tag == "attribute":
            path, f = column(child.get("name"))
            _show(plan, f, path, f"{alias}.{f.name}")
        elif child.tag == "filter":
            plan.where = _and(plan.where, _filter(child, column))
        else:
            raise _refuse(f"The emulator does not evaluate <{child.tag}> in <link-entity>.")
    if kind == "inner":
        key_path = f"{nav}.{target.key[0]}"
        plan.where = _and(plan.where, Compare("ne", key_path, None))


def _and(left: Filter | None, right: Filter | None) -> Filter | None:
    if left is None:
        return right
    if right is None:
        return left
    return Logical("and", left, right)


def _filter(node: ET.Element, column: Callable[[str | None], tuple[str, Field]]) -> Filter | None:
    kind = node.get("type", "and")
    if kind not in ("and", "or"):
        raise _refuse(f"A filter type is and or or, not '{kind}'.")
    tree: Filter | None = None
    for child in node:
        if child.tag == "condition":
            part: Filter | None = _condition(child, column)
        elif child.tag == "filter":
            part = _filter(child, column)
        else:
            raise _refuse(f"The emulator does not evaluate <{child.tag}> in <filter>.")
        if part is None:
            continue
        tree = part if tree is None else Logical(kind, tree, part)
    return tree


def _condition(node: ET.Element, column: Callable[[str | None], tuple[str, Field]]) -> Filter:
    if node.get("entityname"):
        raise _refuse("The emulator does not evaluate conditions with entityname.")
    name, f = column(node.get("attribute"))
    operator = node.get("operator", "")
    value = node.get("value")
    values = [v.text or "" for v in node if v.tag == "value"]
    if operator in _COMPARE:
        return Compare(_COMPARE[operator], name, _typed(f, _one(value, values, operator)))
    if operator in ("null", "not-null"):
        return Compare("eq" if operator == "null" else "ne", name, None)
    if operator in ("like", "not-like", "begins-with", "ends-with"):
        like = _like(name, operator, _one(value, values, operator))
        return Not(like) if operator == "not-like" else like
    if operator in ("in", "not-in"):
        if not values:
            raise _refuse(f"The condition on {name} with operator {operator} needs <value>s.")
        op, join = ("eq", "or") if operator == "in" else ("ne", "and")
        tree: Filter = Compare(op, name, _typed(f, values[0]))
        for item in values[1:]:
            tree = Logical(join, tree, Compare(op, name, _typed(f, item)))
        return tree
    if operator in ("between", "not-between"):
        if len(values) != 2:
            raise _refuse(f"The condition on {name} with operator {operator} needs two values.")
        low, high = (_typed(f, v) for v in values)
        if operator == "between":
            return Logical("and", Compare("ge", name, low), Compare("le", name, high))
        return Logical("or", Compare("lt", name, low), Compare("gt", name, high))
    if operator in _DATE_FUNCTIONS:
        function = _DATE_FUNCTIONS[operator]
        argument = f",PropertyValue='{value}'" if value is not None else ""
        text = rewrite_functions(f"Microsoft.Dynamics.CRM.{function}(PropertyName='x'{argument})")
        return _renamed(parse_filter(text), name, f)
    raise _refuse(f"The emulator does not evaluate the condition operator '{operator}'.")


def _one(value: str | None, values: list[str], operator: str) -> str:
    if value is not None:
        return value
    if len(values) == 1:
        return values[0]
    raise _refuse(f"The condition operator '{operator}' needs one value.")


def _renamed(tree: Filter, name: str, f: Field) -> Filter:
    if isinstance(tree, Logical):
        return Logical(tree.op, _renamed(tree.left, name, f), _renamed(tree.right, name, f))
    if isinstance(tree, Not):
        return Not(_renamed(tree.operand, name, f))
    if isinstance(tree, Compare):
        return Compare(tree.op, name, _typed(f, tree.value))
    return TextCall(tree.function, name, tree.value)


def _like(name: str, operator: str, pattern: str) -> Filter:
    if operator == "begins-with":
        return TextCall("startswith", name, pattern)
    if operator == "ends-with":
        return TextCall("endswith", name, pattern)
    inner = pattern.strip("%")
    if "%" in inner or "_" in inner or "[" in inner:
        raise _refuse(f"The emulator evaluates like with a % at either end only, not '{pattern}'.")
    if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1:
        return TextCall("contains", name, inner)
    if pattern.endswith("%"):
        return TextCall("startswith", name, inner)
    if pattern.startswith("%"):
        return TextCall("endswith", name, inner)
    return Compare("eq", name, pattern)


def _typed(f: Field, value: Any) -> Any:
    """A condition's text as the column's stored value."""
    if not isinstance(value, str):
        return value
    try:
        if f.type in (FieldType.INT, FieldType.PICKLIST):
            return int(value)
        if f.type is FieldType.MONEY:
            return float(value)
        if f.type is FieldType.BOOL:
            return 1 if value.lower() in ("1", "true") else 0
        if f.type in (FieldType.GUID, FieldType.LOOKUP, FieldType.DATETIME):
            return f.coerce(value.strip("{}"))
    except ValueError as exc:
        raise _refuse(f"Invalid value '{value}' for {f.name}: {exc}.") from None
    return value


def _page(face: DataverseFace, call: Call, plan: _Plan, fetch: ET.Element) -> Reply:
    entity = plan.entity
    key = entity.key[0]
    top = _whole(fetch, "top")
    size = _whole(fetch, "count")
    if top is not None and size is not None:
        raise _refuse("The top attribute can't be specified with paging attribute count.")
    page = _whole(fetch, "page") or 1
    size = top if top is not None else (size or _DEFAULT_PAGE)
    columns = list(dict.fromkeys([key, VERSION, *plan.columns]))
    offset = 0 if top is not None else (page - 1) * size
    rows = face.select_rows(
        entity, columns, plan.where, order=plan.order, offset=offset, limit=size + 1
    )
    more = top is None and len(rows) > size
    rows = rows[:size]
    notes = Annotations.of(call.headers)
    payload: Record = {"@odata.context": f"{call.root}$metadata#{entity.entity_set}"}
    if fetch.get("returntotalrecordcount", "false").lower() == "true":
        total = len(face.select_rows(entity, [key], plan.where))
        payload["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, 5000)
        payload["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > 5000
    if notes.wants("Microsoft.Dynamics.CRM.morerecords"):
        payload["@Microsoft.Dynamics.CRM.morerecords"] = more
    if more and rows and notes.wants("Microsoft.Dynamics.CRM.fetchxmlpagingcookie"):
        payload["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = _cookie(key, rows, page)
    payload["value"] = [_record(plan, row, notes) for row in rows]
    return json_reply(200, payload)


def _record(plan: _Plan, row: Record, notes: Annotations) -> Record:
    key = plan.entity.key[0]
    record: Record = {"@odata.etag": etag(row)}
    for name, column, f in plan.shown:
        value = row.get(column)
        record[name] = f.present(value)
        if notes.wants(FORMATTED):
            text = formatted(f, value)
            if text is not None:
                record[f"{name}@{FORMATTED}"] = text
        logical = notes.wants("Microsoft.Dynamics.CRM.lookuplogicalname")
        if f.type is FieldType.LOOKUP and value is not None and "." not in column and logical:
            target = row.get(column + "type") if f.polymorphic else f.targets[0]
            record[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = target
    record[key] = row[key]
    return record


def _whole(fetch: ET.Element, name: str) -> int | None:
    text = fetch.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise _refuse(f"The fetch attribute {name} must be a positive whole number, not {text!r}.")
    return int(text)


def _cookie(key: str, rows: list[Record], page: int) -> str:
    """The paging cookie of the next page (INFERRED: the emulator pages by position, and the
    cookie carries the page's first and last id as Dataverse's does)."""
    first, last = rows[0][key], rows[-1][key]
    inner = f'<cookie page="{page}"><{key} last="{{{last}}}" first="{{{first}}}" /></cookie>'
    encoded = quote(quote(inner, safe=""), safe="")
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{encoded}" istracking="False" />'
