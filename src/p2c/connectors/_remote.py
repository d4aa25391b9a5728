"""What the connection types of environments reached over HTTPS share: the URL in messages,
a dry run that previews, and a check that signs in and makes one cheap read."""

from __future__ import annotations

__all__ = ["HttpConnectionType"]

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

from p2c.connectors._config import _HttpConnection
from p2c.connectors._http import ApiSession
from p2c.connectors._kind import ConnectionType, DryRun, System

H = TypeVar("H", bound=_HttpConnection)


class HttpConnectionType(ConnectionType[H]):
    """The registry entry of an HTTPS connection type: a subclass says how a session on
    the API root is made (``session``) and which cheap read proves each system (``probes``).
    """

    dry_run = DryRun.PREVIEW
    # A cheap authenticated read per system: one small record of a table p2c reads.
    probes: ClassVar[Mapping[System, str]]

    @abc.abstractmethod
    def session(self, connection: H, root: Path, label: str) -> ApiSession:
        """A session on the API root of the environment."""

    def where(self, connection: H) -> str:
        return connection.url

    def check(self, connection: H, system: System, root: Path, label: str) -> str:
        session = self.session(connection, root, label)
        try:
            session.tokens.token()
            session.get_json(self.probes[system])
        finally:
            session.close()
        return "signed in and read"
