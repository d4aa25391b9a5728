"""Connectors: how p2c reads and writes each system.

Each connection type of p2c.yaml (``sandbox``, ``dataverse``, ``finops``) is one entry of the
registry (``CONNECTION_TYPES``): its settings model, the systems it serves, how it opens,
checks and dry-runs. ``connection.kind`` is a connection's entry.
"""

from p2c.connectors._base import (
    BulkWriter,
    Changes,
    Destination,
    Outcome,
    ReadRequest,
    Record,
    Row,
    Settlement,
    Source,
)
from p2c.connectors._budget import (
    BudgetFactory,
    LocalBudget,
    RateBudget,
    use_rate_budgets,
)
from p2c.connectors._config import (
    ConnectionSettings,
    DataverseConnection,
    FinOpsConnection,
    SandboxConnection,
)
from p2c.connectors._dataverse import DataverseDestination, DataverseSource
from p2c.connectors._finops import FinOpsDestination, FinOpsSource
from p2c.connectors._kind import ConnectionCheck, ConnectionType, DryRun, System
from p2c.connectors._odata import HttpDestination
from p2c.connectors._registry import (
    CONNECTION_TYPES,
    Connection,
    check_connection,
    connection_label,
    connection_type,
    open_destination,
    open_source,
    upgrade_sales,
)
from p2c.connectors._sandbox import SandboxDestination, SandboxSource

__all__ = [
    "CONNECTION_TYPES",
    "BudgetFactory",
    "BulkWriter",
    "Changes",
    "Connection",
    "ConnectionCheck",
    "ConnectionSettings",
    "ConnectionType",
    "DataverseConnection",
    "DataverseDestination",
    "DataverseSource",
    "Destination",
    "DryRun",
    "FinOpsConnection",
    "FinOpsDestination",
    "FinOpsSource",
    "HttpDestination",
    "LocalBudget",
    "Outcome",
    "RateBudget",
    "ReadRequest",
    "Record",
    "Row",
    "SandboxConnection",
    "SandboxDestination",
    "SandboxSource",
    "Settlement",
    "Source",
    "System",
    "check_connection",
    "connection_label",
    "connection_type",
    "open_destination",
    "open_source",
    "upgrade_sales",
    "use_rate_budgets",
]
