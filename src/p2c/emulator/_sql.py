"""SQL queries on the Dataverse face: ``GET contacts?sql=SELECT …``.

Microsoft's Dataverse SDK for Python sends ``client.query.sql(...)`` this way. Dataverse
documents the supported subset for it: a WHERE clause is a tree of AND/OR/NOT whose leaves are
comparisons of one column with one constant (``= <> != > >= < <=``, ``LIKE``, plus ``IN``,
``BETWEEN`` and ``IS [NOT] NULL``, which are such comparisons joined), TOP takes an integer
literal, and ORDER BY names columns only. The emulator reads exactly that: ``SELECT [TOP n]
column [AS alias], … FROM table [alias] [WHERE …] [ORDER BY column [ASC|DESC], …]``.

The statement is parsed by sqlglot (T-SQL dialect) into a syntax tree, which becomes the same
filter tree as ``$filter`` and runs as parameterized SQL: the text is never pasted into SQL.
Anything else (``*``, joins, GROUP BY and aggregates, DISTINCT, OFFSET/FETCH, functions,
subqueries, column-to-column comparisons, several statements) is refused with 400.
"""

from __future__ import annotations

__all__ = ["sql_reply"]

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from p2c.dynamics import Entity, Field, FieldType
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.odata import Call as TextCall
from p2c.odata import Compare, Filter, Logical, Not, combine

if TYPE_CHECKING:
    from p2c.emulator._dataverse import DataverseFace

# INFERRED: the code and wording of the SQL endpoint's refusals are not documented; the
# emulator answers 400 with the Web API's generic query error code and says what it refused.
_CODE = "0x80060888"
_MAX_TOP = 5000  # the SDK documents TOP 0-5000; a query without TOP answers at most this many
_CLAUSES = {"expressions", "from_", "where", "order", "limit"}
_COMPARE: dict[type[exp.Expression], str] = {
    exp.EQ: "eq",
    exp.NEQ: "ne",
    exp.GT: "gt",
    exp.GTE: "ge",
    exp.LT: "lt",
    exp.LTE: "le",
}
_CLAUSE_NAMES = {
    "joins": "JOIN",
    "group": "GROUP BY",
    "having": "HAVING",
    "distinct": "DISTINCT",
    "offset": "OFFSET",
    "with_": "WITH",
    "with": "WITH",
    "into": "INTO",
    "windows": "WINDOW",
    "qualify": "QUALIFY",
    "laterals": "APPLY",
    "locks": "locking hints",
}
Record = dict[str, Any]


def _refuse(message: str) -> ApiError:
    return ApiError(400, message, _CODE)


def sql_reply(face: DataverseFace, call: Call, entity: Entity) -> Reply:
    """The rows of a SQL SELECT over one table."""
    for option in call.query:
        if option != "sql":
            raise _refuse(f"The query parameter {option} cannot be used with sql.")
    select = _parse(call.query["sql"])
    visible = face.pool.get().visible_columns(entity)
    alias = _table(select, entity)
    shown = [_shown(item, entity, visible, alias) for item in select.expressions]
    where_node = select.args.get("where")
    where = _condition(where_node.this, entity, visible, alias) if where_node else None
    order = [_order(o, entity, visible, alias) for o in _order_items(select)]
    top = _top(select)
    columns = list(dict.fromkeys(f.name for _, f in shown))
    rows = face.select_rows(entity, columns, where, order=order, limit=top)
    values = [{key: f.present(row[f.name]) for key, f in shown} for row in rows]
    return json_reply(200, {"value": values})


# the statement ------------------------------------------------------------------------------


def _parse(text: str) -> exp.Select:
    if not text.strip():
        raise _refuse("The sql query parameter is empty; send one SELECT statement.")
    try:
        statements = [s for s in sqlglot.parse(text, read="tsql") if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "it does not parse"
        raise _refuse(f"The SQL statement is not valid: {first}") from None
    if len(statements) != 1:
        raise _refuse("Send exactly one SELECT statement; several statements are not supported.")
    statement = statements[0]
    if not isinstance(statement, exp.Select):
        kind = statement.key.upper()
        raise _refuse(f"Only SELECT statements are supported (read-only), not {kind}.")
    for name, value in statement.args.items():
        if value and name not in _CLAUSES:
            clause = _CLAUSE_NAMES.get(name, name.upper())
            raise _refuse(f"{clause} is not supported by the emulator's SQL queries.")
    return statement


def _table(select: exp.Select, entity: Entity) -> str | None:
    """The table alias (or None); the table must be the one the request is for."""
    source = select.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or table.args.get("db") or table.args.get("catalog"):
        raise _refuse("FROM names one table by its logical name.")
    if table.name.lower() != entity.name:
        raise _refuse(
            f"The query reads '{table.name}', but the request is for {entity.entity_set}; "
            f"send it to the entity set of '{table.name}'."
        )
    return table.alias or None


def _field(node: exp.Expression, entity: Entity, visible: set[str], alias: str | None) -> Field:
    """The column a node names; anything but a column of the queried table is refused."""
    if not isinstance(node, exp.Column):
        what = node.sql(dialect="tsql")
        raise _refuse(
            f"'{what}' is not a column: the emulator's SQL queries take plain columns only "
            "(no *, functions, aggregates or expressions)."
        )
    qualifier = node.table
    if qualifier and qualifier.lower() not in {entity.name, (alias or "").lower()}:
        raise _refuse(f"The column '{node.sql(dialect='tsql')}' names another table.")
    name = node.name.lower()
    f = entity.by_name.get(name)
    if f is None or f.name not in visible:
        raise _refuse(f"Invalid column name '{node.name}'.")
    return f


def _shown(
    item: exp.Expression, entity: Entity, visible: set[str], alias: str | None
) -> tuple[str, Field]:
    if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and item.is_star):
        raise _refuse("SELECT * is not supported; name the columns.")
    if isinstance(item, exp.Alias):
        return item.alias, _field(item.this, entity, visible, alias)
    f = _field(item, entity, visible, alias)
    return f.name, f


def _order_items(select: exp.Select) -> list[exp.Ordered]:
    order = select.args.get("order")
    return list(order.expressions) if order is not None else []


def _order(
    item: exp.Ordered, entity: Entity, visible: set[str], alias: str | None
) -> tuple[str, bool]:
    return _field(item.this, entity, visible, alias).name, bool(item.args.get("desc"))


def _top(select: exp.Select) -> int:
    limit = select.args.get("limit")
    if limit is None:
        return _MAX_TOP
    if not isinstance(limit, exp.Limit):
        raise _refuse("OFFSET/FETCH is not supported by the emulator's SQL queries; use TOP.")
    value = limit.expression
    if not isinstance(value, exp.Literal) or value.is_string or not value.this.isdigit():
        raise _refuse("TOP takes an integer literal.")
    top = int(value.this)
    if top > _MAX_TOP:
        raise _refuse(f"TOP takes at most {_MAX_TOP:,} rows, not {top:,}.")
    return top


# the WHERE clause ---------------------------------------------------------------------------


def _condition(
    node: exp.Expression, entity: Entity, visible: set[str], alias: str | None
) -> Filter:
    """A WHERE clause as a filter tree; each leaf compares a column with a constant."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And | exp.Or):
        op = "and" if isinstance(node, exp.And) else "or"
        left = _condition(node.this, entity, visible, alias)
        return Logical(op, left, _condition(node.expression, entity, visible, alias))
    if isinstance(node, exp.Not):
        return Not(_condition(node.this, entity, visible, alias))
    leaf = _leaf(node, lambda column: _field(column, entity, visible, alias))
    return Not(leaf) if node.args.get("negate") else leaf


def _leaf(node: exp.Expression, leaf_field: Callable[[exp.Expression], Field]) -> Filter:
    """One comparison of a column with constants."""
    op = _COMPARE.get(type(node))
    if op is not None:
        column, constant = node.this, node.expression
        if not isinstance(column, exp.Column) and isinstance(constant, exp.Column):
            column, constant = constant, column
            op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
        f = leaf_field(column)
        return Compare(op, f.name, _value(f, constant))
    if isinstance(node, exp.Is):
        f = leaf_field(node.this)
        if not isinstance(node.expression, exp.Null):
            raise _refuse("IS takes NULL or NOT NULL.")
        return Compare("eq", f.name, None)
    if isinstance(node, exp.Like):
        if node.args.get("escape"):
            raise _refuse("LIKE with ESCAPE is not supported by the emulator.")
        f = leaf_field(node.this)
        return _like(f.name, _value(f, node.expression, text=True))
    if isinstance(node, exp.In):
        f = leaf_field(node.this)
        if node.args.get("query") or not node.expressions:
            raise _refuse("Subqueries are not supported; IN takes a list of constants.")
        return combine("or", [Compare("eq", f.name, _value(f, v)) for v in node.expressions])
    if isinstance(node, exp.Between):
        f = leaf_field(node.this)
        low = Compare("ge", f.name, _value(f, node.args["low"]))
        return Logical("and", low, Compare("le", f.name, _value(f, node.args["high"])))
    shown = node.sql(dialect="tsql")
    raise _refuse(
        f"The condition '{shown}' is not supported: a WHERE clause compares one column with "
        "one constant, joined by AND, OR and NOT."
    )


def _value(f: Field, node: exp.Expression, *, text: bool = False) -> Any:
    """A constant as the column's stored value."""
    negative = False
    if isinstance(node, exp.Neg):
        node, negative = node.this, True
    if isinstance(node, exp.National):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return 1 if node.this else 0
    if not isinstance(node, exp.Literal):
        raise _refuse(
            f"'{node.sql(dialect='tsql')}' is not a constant: compare {f.name} with a constant "
            "(a column with a column, functions and subqueries are not supported)."
        )
    if node.is_string:
        return node.this if text else _typed(f, node.this)
    number = float(node.this) if "." in node.this or "e" in node.this.lower() else int(node.this)
    return -number if negative else number


def _typed(f: Field, value: str) -> Any:
    try:
        if f.type in (FieldType.GUID, FieldType.LOOKUP, FieldType.DATETIME):
            return f.coerce(value.strip("{}"))
    except ValueError as exc:
        raise _refuse(f"Conversion failed for '{value}' in {f.name}: {exc}.") from None
    return value


def _like(name: str, pattern: Any) -> Filter:
    if not isinstance(pattern, str):
        raise _refuse("LIKE takes a text pattern.")
    inner = pattern.strip("%")
    if "%" in inner or "_" in inner or "[" in inner:
        raise _refuse(f"The emulator evaluates LIKE with a % at either end only, not '{pattern}'.")
    if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1:
        return TextCall("contains", name, inner)
    if pattern.endswith("%"):
        return TextCall("startswith", name, inner)
    if pattern.startswith("%"):
        return TextCall("endswith", name, inner)
    return Compare("eq", name, pattern)
