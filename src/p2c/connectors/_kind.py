"""What a connection type is: the registry entry each ``type`` of p2c.yaml has.

An entry holds everything p2c knows about one type of connection: its settings model, the
systems it can serve, how it opens a source and a destination, how ``p2c connections test``
checks it, what a dry run does with it, and how messages name it. Code outside the entries
never tests which type a connection is; it asks the entry (``connection.kind``).
"""

from __future__ import annotations

__all__ = ["ConnectionCheck", "ConnectionType", "DryRun", "System"]

import abc
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

from p2c._errors import ConfigError
from p2c.connectors._base import Destination, Source
from p2c.connectors._config import ConnectionSettings

if TYPE_CHECKING:
    from p2c.sandbox import UpgradeReport

System = Literal["sales", "finops", "cds"]

C = TypeVar("C", bound=ConnectionSettings)


class DryRun(enum.Enum):
    """How ``p2c run --dry-run`` keeps a destination of this type unchanged."""

    SCRATCH_COPY = "scratch copy"
    """The engine writes to a copy of the destination, made by ``scratch_copy``, and throws
    it away: the destination's own rules run, so rejections are predicted exactly."""

    PREVIEW = "preview"
    """The engine asks the destination to ``preview`` each batch: it reads and compares and
    sends no write (so a rejection by the server cannot be predicted)."""


@dataclass(frozen=True)
class ConnectionCheck:
    """The result of checking one connection."""

    system: System
    label: str
    ok: bool
    message: str
    fix: str | None = None


class ConnectionType(abc.ABC, Generic[C]):
    """The registry entry of one connection type.

    A subclass names the type (``name``, the ``type:`` of p2c.yaml), its settings model
    (``config``), the systems it reads (``systems``) and writes (``writes``), its dry-run
    mode, and implements the abstract methods. The optional hooks have defaults that fit a
    remote system.
    """

    name: ClassVar[str]
    config: ClassVar[type[ConnectionSettings]]
    systems: ClassVar[tuple[System, ...]]
    writes: ClassVar[tuple[System, ...]]
    dry_run: ClassVar[DryRun] = DryRun.PREVIEW

    # what every type says -------------------------------------------------------------------

    @abc.abstractmethod
    def where(self, connection: C) -> str:
        """Where the connection leads, for messages: a file or a URL."""

    @abc.abstractmethod
    def source(self, connection: C, system: System, root: Path, label: str) -> Source:
        """A source reading ``system``; relative paths are from the workspace ``root``."""

    @abc.abstractmethod
    def destination(self, connection: C, system: System, root: Path, label: str) -> Destination:
        """A destination writing ``system`` (one of ``writes``)."""

    @abc.abstractmethod
    def check(self, connection: C, system: System, root: Path, label: str) -> str:
        """Prove the connection works (sign in, read once); what was proved. Raises the
        P2CError that says what is wrong."""

    # optional hooks ---------------------------------------------------------------------------

    def sandbox_path(self, connection: C, root: Path) -> Path | None:
        """The local sandbox file the connection points at; None for a remote system."""
        return None

    def scratch_copy(self, connection: C, root: Path, folder: Path) -> C:
        """A connection to a copy, in ``folder``, of what ``connection`` points at (for a dry
        run of type ``DryRun.SCRATCH_COPY``)."""
        raise ConfigError(f"A {self.name} connection cannot be copied for a dry run.")

    def upgrade_sales(self, connection: C, root: Path, label: str) -> UpgradeReport:
        """The Prospect-to-cash upgrade script on the Sales the connection reaches."""
        raise ConfigError(f"A {self.name} connection cannot run the Sales upgrade script.")

    # the same for every type ----------------------------------------------------------------

    def label(self, connection: C, system: System, name: str | None = None) -> str:
        """How messages name a connection: ``emulator/finops (https://…)``."""
        return f"{name + '/' if name else ''}{system} ({self.where(connection)})"

    def __repr__(self) -> str:
        return f"<connection type {self.name}>"
