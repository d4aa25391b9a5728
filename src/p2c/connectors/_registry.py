"""The registry of connection types: the one place that says which types exist.

Each entry (a :class:`~p2c.connectors.ConnectionType`) holds its settings model, the systems
it serves, how it opens, checks and dry-runs, and how messages name it. ``Connection``, the
type of a connection in p2c.yaml, is the ``type``-discriminated union of the entries' settings
models, made from this registry. The functions below are what the rest of p2c calls: each
asks the connection's entry; nothing tests which type a connection is.
"""

from __future__ import annotations

__all__ = [
    "CONNECTION_TYPES",
    "Connection",
    "check_connection",
    "connection_label",
    "connection_type",
    "open_destination",
    "open_source",
    "upgrade_sales",
]

import functools
import operator
from pathlib import Path
from typing import Annotated, Any

from pydantic import Discriminator, GetCoreSchemaHandler, Tag
from pydantic_core import CoreSchema

from p2c._errors import ConfigError, P2CError
from p2c.connectors._base import Destination, Source
from p2c.connectors._config import ConnectionSettings
from p2c.connectors._dataverse import DATAVERSE
from p2c.connectors._finops import FINOPS
from p2c.connectors._kind import ConnectionCheck, ConnectionType, System
from p2c.connectors._sandbox import SANDBOX
from p2c.sandbox import UpgradeReport

CONNECTION_TYPES: tuple[ConnectionType[Any], ...] = (SANDBOX, DATAVERSE, FINOPS)
"""Every connection type, in the order messages list them."""

_BY_NAME = {entry.name: entry for entry in CONNECTION_TYPES}


def connection_type(name: str) -> ConnectionType[Any]:
    """The registry entry of a connection type.

    Raises:
        ConfigError: no type has that name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(
            f"There is no connection type {name!r}.",
            fix=f"type is one of: {', '.join(_BY_NAME)}",
        ) from None


def _type_of(value: Any) -> Any:
    """The ``type`` of a connection; a connection without one is the sandbox (the default)."""
    if isinstance(value, dict):
        return value.get("type", "sandbox")
    return getattr(value, "type", None)


class _ByType:
    """Validates a connection as the settings model its ``type`` names in the registry."""

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        choices = [Annotated[entry.config, Tag(entry.name)] for entry in CONNECTION_TYPES]
        union: Any = functools.reduce(operator.or_, choices)
        return handler.generate_schema(Annotated[union, Discriminator(_type_of)])


Connection = Annotated[ConnectionSettings, _ByType()]
"""A connection of p2c.yaml: the settings model of one of the registry's types."""


def _serving(connection: Connection, system: System, *, write: bool = False) -> ConnectionType[Any]:
    """The connection's entry; ConfigError when its type does not read (or write) ``system``."""
    kind = connection.kind
    served = kind.writes if write else kind.systems
    if system not in served:
        verb = "writes" if write else "serves"
        others = [e.name for e in CONNECTION_TYPES if system in (e.writes if write else e.systems)]
        raise ConfigError(
            f"The {system} connection is of type {kind.name}, which {verb} "
            f"{' and '.join(served) or 'nothing'} only.",
            fix=f"{system} is {'written' if write else 'read'} through a connection of type "
            + " or ".join(others),
        )
    return kind


def connection_label(connection: Connection, system: System, name: str | None = None) -> str:
    """How messages name a connection: ``emulator/finops (https://…)``."""
    return connection.kind.label(connection, system, name)


def open_source(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> Source:
    """A source reading ``system`` through ``connection``; relative paths are from ``root``.

    Raises:
        ConfigError: the connection's type does not serve ``system``.
    """
    kind = _serving(connection, system)
    return kind.source(connection, system, root, kind.label(connection, system, name))


def open_destination(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> Destination:
    """A destination writing ``system`` through ``connection``.

    Raises:
        ConfigError: the connection's type does not write ``system``.
    """
    kind = _serving(connection, system, write=True)
    return kind.destination(connection, system, root, kind.label(connection, system, name))


def check_connection(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> ConnectionCheck:
    """Sign in and read once; a failure says what is wrong (URL, credentials, permission)."""
    label = connection_label(connection, system, name)
    try:
        message = _serving(connection, system).check(connection, system, root, label)
    except P2CError as error:
        return ConnectionCheck(
            system, label, False, error.message.removeprefix(f"{label}: "), error.fix
        )
    return ConnectionCheck(system, label, True, message)


def upgrade_sales(connection: Connection, root: Path, name: str | None = None) -> UpgradeReport:
    """The Prospect-to-cash upgrade script on the Sales of a connection: in-process on the
    sandbox (which also installs the solution there), through the Web API on Dataverse."""
    kind = _serving(connection, "sales")
    return kind.upgrade_sales(connection, root, kind.label(connection, "sales", name))
