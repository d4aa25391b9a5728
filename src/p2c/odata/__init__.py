"""OData pieces shared by the engine, the connectors and the sandbox: ``$filter`` trees."""

from p2c.odata._filter import (
    Call,
    Compare,
    Filter,
    Logical,
    Not,
    evaluate,
    fields_of,
    parse_filter,
    to_odata,
    to_sql,
)

__all__ = [
    "Call",
    "Compare",
    "Filter",
    "Logical",
    "Not",
    "evaluate",
    "fields_of",
    "parse_filter",
    "to_odata",
    "to_sql",
]
