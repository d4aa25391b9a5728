"""The run loop: for each planned project, task and leg, read pages from the source, map,
decide the legal entity, upsert into the destination, and record outcomes and lineage.

Pages stream through: memory holds one page at a time, whatever the data size.
"""

from __future__ import annotations

__all__ = ["Engine", "RunResult", "TaskResult"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2c._errors import ConfigError, ExitCode, P2CError
from p2c.connectors import ReadRequest
from p2c.engine._mapping import compile_map
from p2c.engine._plan import PlannedProject, plan
from p2c.engine._state import ErrorRow, StateStore, TaskCounts
from p2c.odata import parse_filter
from p2c.templates import Leg
from p2c.workspace import ConnectionSet, OrganizationMapping, Project, Workspace

Progress = Callable[[str, int], None]  # (label, records just processed)

# The column that says which organization a source record belongs to.
_ORGANIZATION_COLUMN = {"sales": "owningbusinessunit.name", "cds": "Organization_OrganizationId"}


@dataclass
class TaskResult:
    project: str
    task: str
    leg: str
    status: str
    counts: TaskCounts
    message: str | None = None
    exit_code: ExitCode = ExitCode.OK


@dataclass
class RunResult:
    run_id: int
    tasks: list[TaskResult] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        codes = [t.exit_code for t in self.tasks]
        if any(t.counts.failed for t in self.tasks) or ExitCode.FAILED_RECORDS in codes:
            return ExitCode.FAILED_RECORDS
        return max(codes, default=ExitCode.OK)

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tasks}
        for status in ("Error", "Skipped", "Warning"):
            if status in statuses:
                return status
        return "Completed"


class Engine:
    """Runs a workspace's projects.

    Args:
        workspace: The opened workspace.
        state: The state database.
        progress: Called after each page with a label and the number of records.
    """

    def __init__(self, workspace: Workspace, state: StateStore, progress: Progress | None = None):
        self.workspace = workspace
        self.state = state
        self.progress = progress or (lambda label, n: None)

    def run(self, projects: Sequence[str] | None = None) -> RunResult:
        planned = plan(self.workspace.config.projects, projects, self.state.last_status)
        run_id = self.state.start_run([p.project.name for p in planned])
        result = RunResult(run_id)
        failed_projects: set[str] = set()
        try:
            for item in planned:
                blocked = [p for p in item.prerequisites if p in failed_projects]
                for task in item.template.tasks:
                    for leg in task.legs:
                        if blocked:
                            outcome = self._skip(
                                run_id,
                                item.project.name,
                                task.name,
                                leg.name,
                                f"prerequisite project {blocked[0]!r} failed",
                            )
                        else:
                            outcome = self._run_leg(run_id, item, task.name, leg)
                        result.tasks.append(outcome)
                        if outcome.status in ("Error", "Skipped"):
                            failed_projects.add(item.project.name)
        finally:
            self.state.finish_run(run_id, result.status)
        return result

    def _skip(self, run_id: int, project: str, task: str, leg: str, why: str) -> TaskResult:
        task_run = self.state.start_task(run_id, project, task, leg)
        counts = TaskCounts()
        self.state.finish_task(task_run, counts, "Skipped", why)
        return TaskResult(project, task, leg, "Skipped", counts, why, ExitCode.PREREQUISITE)

    def _run_leg(self, run_id: int, item: PlannedProject, task: str, leg: Leg) -> TaskResult:
        project = item.project
        task_run = self.state.start_task(run_id, project.name, task, leg.name)
        counts = TaskCounts()
        try:
            self._copy(run_id, task_run, project, task, leg, counts)
        except P2CError as error:
            message = str(error)
            self.state.finish_task(task_run, counts, "Error", message)
            return TaskResult(
                project.name, task, leg.name, "Error", counts, message, error.exit_code
            )
        status = counts.status
        self.state.finish_task(task_run, counts, status)
        return TaskResult(project.name, task, leg.name, status, counts)

    def _copy(
        self, run_id: int, task_run: int, project: Project, task: str, leg: Leg, counts: TaskCounts
    ) -> None:
        connections = self.workspace.connection_set(project.connection_set)
        source = self.workspace.source(project.connection_set, leg.source.system)
        destination = self.workspace.destination(project.connection_set, leg.destination.system)
        try:
            compiled = compile_map(leg.map)
            organization = _OrganizationResolver(
                connections, project, leg, _ORGANIZATION_COLUMN.get(leg.source.system)
            )
            # With one organization mapping every record gets it: no need to read the column.
            organization_column = None if organization.single else organization.column
            lookups = compiled.lookups
            if organization_column and "." in organization_column:
                lookups = (*lookups, organization_column)
            source_key = source.record_key(leg.source.entity)
            columns = tuple(
                dict.fromkeys(
                    [
                        *source_key,
                        *compiled.columns,
                        *(
                            [organization_column]
                            if organization_column and "." not in organization_column
                            else []
                        ),
                    ]
                )
            )
            request = ReadRequest(
                leg.source.entity,
                columns,
                tuple(dict.fromkeys(lookups)),
                parse_filter(leg.source.filter) if leg.source.filter else None,
            )
            key_fields = leg.destination.key
            label = f"{project.name} / {task}" + (f" / {leg.name}" if leg.name else "")
            apply = compiled.apply
            for page in source.read(request):
                counts.read += len(page)
                batch: list[dict[str, Any]] = []
                keys: list[str] = []
                errors: list[ErrorRow] = []
                for record in page:
                    record_key = "/".join(str(record[k]) for k in source_key)
                    fixed = organization.values(record)
                    if fixed is None:
                        counts.skipped += 1
                        continue
                    if isinstance(fixed, ErrorRow):
                        errors.append(ErrorRow(record_key, None, fixed.field, fixed.message))
                        counts.failed += 1
                        continue
                    mapped = apply(record)
                    mapped.update(fixed)
                    batch.append(mapped)
                    keys.append(record_key)
                results = (
                    destination.upsert(leg.destination.entity, key_fields, batch) if batch else []
                )
                lineage = []
                for result, record_key in zip(results, keys, strict=True):
                    status = result.status
                    destination_key = "/".join(str(v) for v in result.key)
                    if status == "failed":
                        counts.failed += 1
                        errors.append(
                            ErrorRow(
                                record_key,
                                destination_key,
                                result.field,
                                result.message or "rejected",
                                result.retryable,
                            )
                        )
                        continue
                    if status == "created":
                        counts.created += 1
                    elif status == "updated":
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
                    lineage.append((record_key, destination_key, None))
                self.state.record_batch(
                    run_id,
                    task_run,
                    project.name,
                    task,
                    leg.name,
                    (leg.source.entity, leg.destination.entity),
                    errors,
                    lineage,
                )
                self.progress(label, len(page))
        finally:
            source.close()
            destination.close()


class _OrganizationResolver:
    """Decides each record's legal entity (and CDS organization) from the organization
    mappings: by the record's business unit in Sales, by its organization id in CDS."""

    def __init__(
        self, connections: ConnectionSet, project: Project, leg: Leg, column: str | None
    ) -> None:
        mappings = list(connections.organizations)
        if project.business_unit:
            mappings = [m for m in mappings if m.business_unit == project.business_unit]
            if not mappings:
                raise ConfigError(
                    f"Project {project.name!r} names business unit {project.business_unit!r}, "
                    "which has no organization mapping.",
                    fix="add it under organizations in the connection set",
                )
        self.restricted = bool(project.business_unit)
        self.column = column
        system = leg.destination.system
        self.target_field = {"finops": "dataAreaId", "cds": "Organization_OrganizationId"}[system]
        self.mapped_explicitly = self.target_field in leg.map
        attribute = "business_unit" if leg.source.system == "sales" else "cds_organization"
        self.by_source: dict[str, OrganizationMapping] = {
            getattr(m, attribute): m for m in mappings
        }
        self.single = mappings[0] if len(mappings) == 1 and not self.restricted else None
        self.system = system

    def values(self, record: dict[str, Any]) -> dict[str, Any] | ErrorRow | None:
        """Fields to set on the mapped record; None to skip it; an ErrorRow when unmapped."""
        mapping = self.single
        if mapping is None:
            owner = record.get(self.column) if self.column else None
            mapping = self.by_source.get(owner or "")
            if mapping is None:
                if self.restricted:
                    return None
                return ErrorRow(
                    "",
                    None,
                    self.column,
                    f"organization {owner!r} has no organization mapping; add one to "
                    "the connection set in p2c.yaml",
                )
        if self.mapped_explicitly:
            return {}
        if self.system == "finops":
            return {"dataAreaId": mapping.legal_entity}
        return {"Organization_OrganizationId": mapping.cds_organization}
