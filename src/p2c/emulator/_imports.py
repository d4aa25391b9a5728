"""One import of a data package, as F&O's Data management framework runs it: the data file
to the staging table, then staging to the entity, through the sandbox's keyed upsert, so a
record is rejected with the very words the OData face uses.

The staging step reads the ``CSV-Unicode`` data file and turns each field's text into the
field's type (an empty field is null, INFERRED: F&O keeps no null text, the sandbox does); a
row that cannot be read is a staging error. The target step writes the rows a chunk at a
time, each chunk one transaction, and keeps per record what F&O's execution log keeps: the
key, the field and the message of each rejection.
"""

from __future__ import annotations

__all__ = ["Execution", "ImportRun"]

import io
import itertools
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from p2c.dynamics import Entity, FieldType, read_data_file, read_manifest
from p2c.emulator._pool import SystemPool
from p2c.sandbox import KeyedSystem

_CHUNK = 5000
_COMPANY = "dataAreaId"
Record = dict[str, Any]


@dataclass
class Execution:
    """One execution (a job of the Data management workspace) and what it came to."""

    execution_id: str
    group: str
    package: str  # the blob name
    legal_entity: str
    execute: bool
    status: str = "NotRun"
    entity: str = ""
    staged: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    staging_rows: list[list[str | None]] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    queued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    ended_at: datetime | None = None
    server_seconds: float = 0.0

    @property
    def target_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.errors if e["Stage"] == "Target" and e["Key"]]

    def history(self) -> Record:
        """The execution as a row of the workspace's job history export."""
        return {
            "ExecutionId": self.execution_id,
            "DefinitionGroupId": self.group,
            "Entity": self.entity,
            "Status": self.status,
            "StagingRecords": self.staged,
            "Created": self.created,
            "Updated": self.updated,
            "Unchanged": self.unchanged,
            "Errors": len(self.errors),
            "LegalEntity": self.legal_entity,
            "QueuedDateTime": _text(self.queued_at),
            "StartedDateTime": _text(self.started_at),
            "EndedDateTime": _text(self.ended_at),
            "ServerSeconds": round(self.server_seconds, 3),
        }


def _text(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


class ImportRun:
    """Runs one execution against the sandbox.

    Args:
        pool: The F&O system per thread.
        entities: The entities the service serves.
        write_error: F&O's message for a rejected record (the OData face's wording).
        record_ms: Server time per record (the cost model), slept outside the write lock.
    """

    def __init__(
        self,
        pool: SystemPool[KeyedSystem],
        entities: dict[str, Entity],
        write_error: Callable[[Entity, str], str],
        record_ms: float,
    ) -> None:
        self.pool = pool
        self.entities = entities
        self.write_error = write_error
        self.record_ms = record_ms

    def run(self, execution: Execution, data: bytes) -> None:
        """Import the package; the execution's status and log say how it went."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            _, described = read_manifest(archive.read("Manifest.xml"))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            self._general(execution, f"The data package could not be read: {exc}")
            execution.status = "Failed"
            return
        for item in described:
            entity = self._entity(item.name)
            execution.entity = item.name
            if entity is None:
                self._general(execution, f"Entity {item.name} does not exist in the target.")
                continue
            try:
                with archive.open(item.file) as stream:
                    self._entity_file(execution, entity, item.columns, read_data_file(stream))
            except (KeyError, ValueError) as exc:
                self._general(execution, f"{item.file}: {exc}")
        written = execution.created + execution.updated + execution.unchanged
        if not execution.errors:
            execution.status = "Succeeded"
        else:
            execution.status = "PartiallySucceeded" if written else "Failed"

    def _entity(self, name: str) -> Entity | None:
        wanted = name.lower()
        for entity in self.entities.values():
            if wanted in (entity.name.lower(), entity.entity_set.lower(), entity.label.lower()):
                return entity
        return None

    def _general(self, execution: Execution, message: str) -> None:
        execution.errors.append(
            {
                "EntityName": execution.entity,
                "Key": {},
                "FieldName": None,
                "ErrorMessage": message,
                "Stage": "Staging",
            }
        )

    def _entity_file(
        self,
        execution: Execution,
        entity: Entity,
        columns: tuple[str, ...],
        rows: Iterator[list[str | None]],
    ) -> None:
        by_upper = {f.name.upper(): f for f in entity.fields}
        header = [c or "" for c in next(rows, [])]
        names = [by_upper.get(c.upper()) for c in header]
        unknown = [c for c, f in zip(header, names, strict=True) if f is None]
        if unknown or [c.upper() for c in header] != [c.upper() for c in columns]:
            self._general(
                execution,
                f"The mapping is incorrect for entity {execution.entity}: "
                + (
                    f"no field {', '.join(unknown)}." if unknown else "columns differ from the map."
                ),
            )
            return
        execution.columns = tuple(header)
        execution.key_columns = tuple(k.upper() for k in entity.key)
        fields = [f for f in names if f is not None]
        while chunk := list(itertools.islice(rows, _CHUNK)):
            records: list[Record] = []
            for row in chunk:
                record = _staged(fields, row)
                if record is None:
                    execution.staging_rows.append(row)
                    self._staging_error(execution, entity, header, row)
                    continue
                if _COMPANY in entity.by_name and not record.get(_COMPANY):
                    record[_COMPANY] = execution.legal_entity.lower() or None
                records.append(record)
            execution.staged += len(records)
            if execution.execute and records:
                self._target(execution, entity, records)

    def _staging_error(
        self, execution: Execution, entity: Entity, header: list[str], row: list[str | None]
    ) -> None:
        values = dict(zip((h.upper() for h in header), row, strict=False))
        execution.errors.append(
            {
                "EntityName": execution.entity,
                "Key": {k.upper(): values.get(k.upper(), "") for k in entity.key},
                "FieldName": None,
                "ErrorMessage": f"The row has {len(row)} fields; the data file has {len(header)}.",
                "Stage": "Staging",
            }
        )

    def _target(self, execution: Execution, entity: Entity, records: list[Record]) -> None:
        system = self.pool.get()
        with self.pool.write_lock:
            outcomes = system.upsert(entity.entity_set, records)
        for outcome in outcomes:
            if outcome.status == "failed":
                execution.errors.append(
                    {
                        "EntityName": execution.entity,
                        "Key": {
                            k.upper(): "" if v is None else str(v)
                            for k, v in zip(entity.key, outcome.key, strict=True)
                        },
                        "FieldName": outcome.field,
                        "ErrorMessage": self.write_error(entity, outcome.message or "refused"),
                        "Stage": "Target",
                    }
                )
            elif outcome.status == "created":
                execution.created += 1
            elif outcome.status == "updated":
                execution.updated += 1
            else:
                execution.unchanged += 1
        cost = len(records) * self.record_ms / 1000
        if cost:
            time.sleep(cost)
        execution.server_seconds += cost


def _staged(fields: list[Any], row: list[str | None]) -> Record | None:
    """A data file row as a record of typed values; None when the row cannot be read."""
    if len(row) != len(fields):
        return None
    return {f.name: _value(f.type, text) for f, text in zip(fields, row, strict=True)}


def _value(kind: FieldType, text: str | None) -> Any:
    """A field's text as its type (an empty field is null, a quoted empty one empty text);
    text that does not convert is left for the entity's own check to refuse, with its own
    message."""
    if text is None or (text == "" and kind is not FieldType.STRING):
        return None
    try:
        if kind in (FieldType.INT, FieldType.PICKLIST):
            return int(text)
        if kind is FieldType.MONEY:
            return float(text)
    except ValueError:
        return text
    if kind is FieldType.BOOL:
        return {"1": True, "true": True, "0": False, "false": False}.get(text.lower(), text)
    return text
