"""OData pieces shared by the engine, the connectors and the sandbox: ``$filter`` trees."""

from p2c.odata._filter import (
    MAX_DEPTH,
    Call,
    Compare,
    Filter,
    Logical,
    Not,
    combine,
    parse_filter,
)
from p2c.odata._walk import evaluate, fields_of, map_leaves, to_odata, to_sql

__all__ = [
    "MAX_DEPTH",
    "Call",
    "Compare",
    "Filter",
    "Logical",
    "Not",
    "combine",
    "evaluate",
    "fields_of",
    "map_leaves",
    "parse_filter",
    "to_odata",
    "to_sql",
]
