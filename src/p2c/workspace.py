"""The workspace: ``p2c.yaml`` as a typed tree, and the systems it connects.

A workspace is a folder with ``p2c.yaml`` (connection sets, organization mappings, projects),
the sandbox databases when the sandbox is used, and the state database.
"""

from __future__ import annotations

__all__ = [
    "CONFIG_FILE",
    "TEMPLATES_FOLDER",
    "CeleryExecutor",
    "ConnectionSet",
    "Executor",
    "LocalExecutor",
    "OrganizationMapping",
    "Project",
    "SandboxConnection",
    "Workspace",
    "init_workspace",
]

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from p2c._errors import ConfigError, NotFoundError
from p2c._projectnames import display_names, find_project
from p2c._yamlfile import load_document
from p2c.config import READ_ALL, check_workspace
from p2c.connectors import (
    Connection,
    Destination,
    SandboxConnection,
    Source,
    System,
    open_destination,
    open_source,
)
from p2c.sandbox import ROOT_BUSINESS_UNIT, CDSHub, FinOpsSandbox, SalesSandbox
from p2c.service import AdminCenter, Alerts, Notifications, Notify, Schedule
from p2c.templates import BUILTIN, Leg, Template, TemplateCatalog, Transform, template_names

CONFIG_FILE = "p2c.yaml"
TEMPLATES_FOLDER = "templates"
Generation = Literal["direct", "via-cds"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganizationMapping(_Model):
    """Sales business unit <-> F&O legal entity (and CDS organization for the via-CDS leg)."""

    business_unit: str
    legal_entity: str
    cds_organization: str = "ORG001"

    def value_for(self, system: System) -> str:
        """The organization as the records of ``system`` name it: the business unit in Sales,
        the legal entity in F&O, the organization id in the CDS hub."""
        names: dict[System, str] = {
            "sales": self.business_unit,
            "finops": self.legal_entity,
            "cds": self.cds_organization,
        }
        return names[system]


class ConnectionSet(_Model):
    """Two connections (three via CDS), with the organization mappings between them."""

    sales: Connection
    finops: Connection
    cds: Connection | None = None
    organizations: list[OrganizationMapping]


class LegChanges(_Model):
    """The user's changes to one mapping leg."""

    filter: str | None = None
    map: dict[str, Transform] = {}
    remove: list[str] = []


InactivePolicy = Literal["ignore", "deactivate"]


class TaskChanges(LegChanges):
    """Changes to a task: ``filter`` applies to its first leg (the one reading Sales), ``map``
    and ``remove`` to its last leg (the one writing F&O); ``legs`` changes a leg by name.

    ``on_inactive``: what a contact deactivated in Sales does to its F&O contact person:
    ``ignore`` (the Data Integrator's behaviour) or ``deactivate`` (IsInactive = Yes).
    ``max_failed_records``: the task stops with status Error past this many failures.
    """

    legs: dict[str, LegChanges] = {}
    on_inactive: InactivePolicy | None = None
    max_failed_records: Annotated[int | None, Field(ge=0)] = None


class Project(_Model):
    """A template applied to a connection set, plus the user's changes."""

    name: str
    # A name to type on the command line (``p2c run customers``); see Workspace.find_project.
    alias: Annotated[str | None, Field(min_length=1)] = None
    template: str
    connection_set: str = "sandbox"
    business_unit: str | None = None
    on_inactive: InactivePolicy = "ignore"
    max_failed_records: Annotated[int | None, Field(ge=0)] = None
    # Records per page read and per batch written (and per state commit).
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 5000
    tasks: dict[str, TaskChanges] = {}
    schedule: Schedule | None = None  # p2c serve runs it by itself
    notify: Notify | None = None  # mail and webhook at the end of its runs

    def inactive_policy(self, task: str) -> InactivePolicy:
        changes = self.tasks.get(task)
        return (changes.on_inactive if changes else None) or self.on_inactive

    def failure_threshold(self, task: str) -> int | None:
        changes = self.tasks.get(task)
        if changes and changes.max_failed_records is not None:
            return changes.max_failed_records
        return self.max_failed_records

    def effective_template(self, catalog: TemplateCatalog = BUILTIN) -> Template:
        """The template (from ``catalog``) with this project's changes applied.

        Raises:
            ConfigError: a change names a task, leg or field that does not exist.
        """
        template = catalog.get(self.template).model_copy(deep=True)
        tasks = {t.name: t for t in template.tasks}
        for task_name, changes in self.tasks.items():
            task = tasks.get(task_name)
            if task is None:
                raise ConfigError(
                    f"Project {self.name!r} changes task {task_name!r}, which its template "
                    "does not have.",
                    fix=f"use one of: {', '.join(tasks)}",
                )
            first, last = task.legs[0], task.legs[-1]
            _apply(self.name, first, LegChanges(filter=changes.filter))
            _apply(self.name, last, LegChanges(map=changes.map, remove=changes.remove))
            legs = {leg.name: leg for leg in task.legs}
            for leg_name, leg_changes in changes.legs.items():
                if leg_name not in legs:
                    raise ConfigError(
                        f"Project {self.name!r}: task {task_name!r} has no leg {leg_name!r}.",
                        fix=f"use one of: {', '.join(legs)}",
                    )
                _apply(self.name, legs[leg_name], leg_changes)
        return template


def _apply(project: str, leg: Leg, changes: LegChanges) -> None:
    if changes.filter is not None:
        # `filter: all` reads every record; an empty filter is refused when p2c.yaml is read.
        every = changes.filter.strip().lower() == READ_ALL
        leg.source.filter = None if every else changes.filter or None
    for field in changes.remove:
        if field not in leg.map:
            raise ConfigError(
                f"Project {project!r} removes {field!r}, which leg {leg.name!r} does not map.",
                fix="check the field name",
            )
        del leg.map[field]
    leg.map.update(changes.map)


class StateConfig(_Model):
    """The state database, how long history is kept, and how close to now the incremental
    cursor may come (records changed in the last ``settle_seconds`` are read again next
    run, so a change committed while a run reads is never skipped)."""

    url: str = "sqlite:///state.db"
    retention_days: Annotated[int, Field(ge=1)] = 45
    settle_seconds: Annotated[float, Field(ge=0)] = 5.0


class LocalExecutor(_Model):
    """Runs in the process that starts them (``p2c run``, ``p2c serve``): the default."""

    type: Literal["local"] = "local"


class CeleryExecutor(_Model):
    """Runs on Celery workers (``p2c worker``) through a Redis broker.

    Args:
        broker: The Redis URL (``redis://host:6379/0``, ``rediss://`` for TLS), without a
            password: give that in ``broker_password_env``.
        broker_password_env: Environment variable holding the Redis password, if any.
        queue: The queue runs are sent to (``p2c worker --queues`` picks queues).
        visibility_timeout: Seconds after which Redis hands a task that was taken but not
            acknowledged to another worker (its worker died). Celery's default is an hour;
            p2c's is a minute. A run that is still alive past it is not run twice: the
            second delivery sees the live run's lease and waits.
        heartbeat_seconds: How often a worker tells that a run it holds is alive (its
            project locks, its run in the history, its lease in Redis).
        stale_after_seconds: A holder not heard from for this long is taken for dead, and
            another worker takes its run over. Must be several heartbeats.
        partitions: Key-range partitions of a task leg's first sync, run in parallel on
            the workers (1: none).
        partition_min_records: A first sync with fewer source records is not partitioned.
        stop_grace_seconds: After SIGTERM, how long a run may take to finish its batch in
            progress; past it the batch is abandoned (re-running it is safe: the cursor
            and lineage moved only with the last whole batch) and the run handed back.
    """

    type: Literal["celery"]
    broker: Annotated[str, Field(pattern=r"^rediss?://")]
    broker_password_env: str | None = None
    queue: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "p2c"
    visibility_timeout: Annotated[float, Field(ge=5, le=86_400)] = 60.0
    heartbeat_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    stale_after_seconds: Annotated[float, Field(gt=0, le=86_400)] = 30.0
    partitions: Annotated[int, Field(ge=1, le=64)] = 1
    partition_min_records: Annotated[int, Field(ge=0)] = 10_000
    stop_grace_seconds: Annotated[float, Field(ge=0, le=86_400)] = 60.0

    @model_validator(mode="after")
    def _heartbeats_fit(self) -> CeleryExecutor:
        if self.stale_after_seconds < 3 * self.heartbeat_seconds:
            raise ValueError(
                "stale_after_seconds must be at least 3 heartbeat_seconds, or a live run "
                "could be taken for dead"
            )
        if "@" in self.broker.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError(
                "give the broker's password in broker_password_env, not in the URL "
                "(p2c.yaml holds no secret)"
            )
        return self


Executor = Annotated[LocalExecutor | CeleryExecutor, Field(discriminator="type")]


class WorkspaceConfig(_Model):
    version: Literal[1] = 1
    generation: Generation = "direct"
    connection_sets: dict[str, ConnectionSet]
    state: StateConfig = StateConfig()
    projects: list[Project] = []
    notifications: Notifications | None = None  # the mail server and the link of p2c serve
    alerts: Alerts | None = None
    executor: Executor = LocalExecutor()
    admin_center: AdminCenter | None = None  # Entra ID sign-in


class Workspace:
    """An opened workspace: its folder and its validated configuration."""

    def __init__(
        self, root: Path, config: WorkspaceConfig, templates: TemplateCatalog | None = None
    ) -> None:
        self.root = root
        self.config = config
        # The built-in templates and the workspace's own (``templates/*.yaml``).
        self.templates = templates or BUILTIN.extended(root / TEMPLATES_FOLDER)

    @classmethod
    def open(cls, root: Path | None = None) -> Workspace:
        folder = Path(root or os.environ.get("P2C_WORKSPACE") or ".").resolve()
        path = folder / CONFIG_FILE
        if not path.exists():
            raise NotFoundError(
                f"No workspace at {folder} (no {CONFIG_FILE}).",
                fix="create one with `p2c init DIR`, or pass --workspace DIR",
            )
        config, lines = load_document(path, WorkspaceConfig)
        # Checked against the model of Dynamics before any command uses it (p2c.config).
        templates = BUILTIN.extended(folder / TEMPLATES_FOLDER)
        return cls(folder, check_workspace(config, lines, folder, templates), templates)

    def project(self, name: str) -> Project:
        for project in self.config.projects:
            if project.name == name:
                return project
        raise NotFoundError(
            f"p2c.yaml has no project {name!r}.",
            fix="`p2c projects` lists the workspace's projects",
        )

    def find_project(self, query: str) -> Project:
        """The project a person names: its name, alias or short name (the name before the
        parenthesis), else a unique prefix or words of its name, ignoring case.

        Raises:
            NotFoundError: no project matches.
            ConfigError: several do (the message lists them).
        """
        return find_project(self.config.projects, query)

    def display_names(self) -> dict[str, str]:
        """Project name -> what to call it where room is short: its alias, else its short
        name when that names it alone, else its name."""
        return display_names(self.config.projects)

    def state_url(self) -> str:
        """The state database URL; a relative SQLite path is relative to the workspace."""
        url = self.config.state.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            return "sqlite:///" + str(self.root / url[len("sqlite:///") :])
        return url

    def connection_set(self, name: str = "sandbox") -> ConnectionSet:
        try:
            return self.config.connection_sets[name]
        except KeyError:
            raise ConfigError(
                f"p2c.yaml has no connection set {name!r}.",
                fix=f"use one of: {', '.join(self.config.connection_sets)}",
            ) from None

    def connection(self, connection_set: str, system: System) -> Connection:
        """The connection of ``system`` in a connection set."""
        connections = self.connection_set(connection_set)
        connection = getattr(connections, system)
        if connection is None:
            raise ConfigError(
                f"Connection set {connection_set!r} has no CDS hub.",
                fix="CDS is part of the via-CDS generation: `p2c init DIR --via-cds`",
            )
        return connection  # type: ignore[no-any-return]

    def source(self, connection_set: str, system: System) -> Source:
        """A connector reading ``system`` of a connection set."""
        return open_source(
            self.connection(connection_set, system), system, self.root, connection_set
        )

    def destination(self, connection_set: str, system: System) -> Destination:
        """A connector writing ``system`` of a connection set."""
        return open_destination(
            self.connection(connection_set, system), system, self.root, connection_set
        )

    def _sandbox_path(self, connection_set: str, system: System) -> Path:
        connection = self.connection(connection_set, system)
        path = connection.kind.sandbox_path(connection, self.root)
        if path is None:
            raise ConfigError(
                f"The {system} connection of {connection_set!r} is {connection.type}, "
                "not the sandbox.",
                fix="sandbox commands work on a connection set of type sandbox",
            )
        return path

    def sales(self, connection_set: str = "sandbox") -> SalesSandbox:
        return SalesSandbox(self._sandbox_path(connection_set, "sales"))

    def finops(self, connection_set: str = "sandbox") -> FinOpsSandbox:
        return FinOpsSandbox(self._sandbox_path(connection_set, "finops"))

    def cds(self, connection_set: str = "sandbox") -> CDSHub:
        return CDSHub(self._sandbox_path(connection_set, "cds"))


def init_workspace(root: Path, *, via_cds: bool = False, with_p2c: bool = True) -> Workspace:
    """Create a workspace: p2c.yaml, the sandbox systems, one project per built-in template.

    Raises:
        ConfigError: when ``root`` already holds a workspace.
    """
    if (root / CONFIG_FILE).exists():
        raise ConfigError(
            f"{root} already holds a workspace.", fix="choose an empty folder or remove p2c.yaml"
        )
    try:
        (root / "sandbox").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the workspace folder {root}: {exc.strerror}.",
            fix="choose a path that is an empty or new folder",
        ) from None
    generation: Generation = "via-cds" if via_cds else "direct"
    sales = SalesSandbox(root / "sandbox" / "sales.db", create=True)
    sales.initialize(with_p2c=with_p2c)
    sales.close()
    finops = FinOpsSandbox(root / "sandbox" / "finops.db", create=True)
    finops.initialize()
    finops.close()
    if via_cds:
        cds = CDSHub(root / "sandbox" / "cds.db", create=True)
        cds.initialize()
        cds.close()
    connections = ConnectionSet(
        sales=SandboxConnection(path="sandbox/sales.db"),
        finops=SandboxConnection(path="sandbox/finops.db"),
        cds=SandboxConnection(path="sandbox/cds.db") if via_cds else None,
        organizations=[OrganizationMapping(business_unit=ROOT_BUSINESS_UNIT, legal_entity="usmf")],
    )
    config = WorkspaceConfig(
        generation=generation,
        connection_sets={"sandbox": connections},
        projects=[Project(name=name, template=name) for name in template_names(generation)],
    )
    data = config.model_dump(mode="json", exclude_none=True, exclude={"executor"})
    header = (
        "# p2c workspace. Connection sets, organization mappings and projects.\n"
        "# Projects and mappings: docs/templates.md; connection sets: docs/connectors.md;\n"
        "# state, aliases and run settings: docs/operations.md. `p2c templates` lists the\n"
        "# built-in templates.\n"
    )
    (root / CONFIG_FILE).write_text(
        header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    workspace = Workspace(root.resolve(), config)
    from p2c.engine import StateStore  # the engine imports this module

    StateStore(workspace.state_url()).close()
    return workspace
