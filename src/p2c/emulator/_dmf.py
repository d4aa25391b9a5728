"""F&O's Data management package API on the emulator's F&O face.

The actions are bound to ``DataManagementDefinitionGroups`` (``POST …/data/
DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.<Action>``), as Microsoft's
"Data management package REST API" documents them: ``GetAzureWriteUrl``,
``ImportFromPackage``, ``GetExecutionSummaryStatus``, ``GetExecutionErrors``,
``GenerateImportTargetErrorKeysFile``, ``GetImportTargetErrorKeysFileUrl``,
``GetImportStagingErrorFileUrl`` and ``GetEntityExecutionSummaryStatusList``. Executions run
asynchronously, one at a time, on a thread of their own (as the framework's batch job does),
through the sandbox's keyed upsert (``_imports.py``).

INFERRED, where the documentation is silent: an execution id F&O does not know has status
``Unknown``; ``ImportFromPackage`` with an execution id it knows answers that id and imports
nothing again; a data project (definition group) that does not exist is created from the
package's manifest; ``GetExecutionErrors`` answers a JSON list whose items name the entity,
the record's key, the field, the message and the stage; the error files are CSV (UTF-8) with
the key fields (target) or the data file's columns (staging). ``GET
DataManagementDefinitionGroups`` lists the data projects and ``GET DataManagementJobHistory``
the executions with their counts, as the workspace's job history export does.
"""

from __future__ import annotations

__all__ = ["DataManagementService"]

import csv
import io
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from p2c.dynamics import Entity
from p2c.emulator._blobs import BlobStore
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._imports import Execution, ImportRun
from p2c.emulator._pool import SystemPool
from p2c.emulator._settings import EmulatorSettings
from p2c.sandbox import KeyedSystem

SET = "DataManagementDefinitionGroups"
HISTORY = "DataManagementJobHistory"
_PREFIX = f"{SET}/Microsoft.Dynamics.DataEntities."
Record = dict[str, Any]


class DataManagementService:
    """The data projects, the executions and the worker that runs them.

    Args:
        pool: The F&O system per thread.
        entities: The entities of the F&O face, by entity set.
        settings: The emulator's settings (the cost model).
        blobs: The blob container packages are uploaded to.
        write_error: F&O's message for a rejected record, as the OData face words it.
    """

    def __init__(
        self,
        pool: SystemPool[KeyedSystem],
        entities: dict[str, Entity],
        settings: EmulatorSettings,
        blobs: BlobStore,
        write_error: Callable[[Entity, str], str],
    ) -> None:
        self.settings = settings
        self.blobs = blobs
        self.runner = ImportRun(pool, entities, write_error, settings.package_record_ms)
        self.groups: dict[str, Record] = {}
        self.executions: dict[str, Execution] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="p2c-dmf", daemon=True)
        self._worker.start()
        self._actions: dict[str, Callable[[Call, Record], Reply]] = {
            "GetAzureWriteUrl": self._write_url,
            "ImportFromPackage": self._import,
            "GetExecutionSummaryStatus": self._status,
            "GetExecutionErrors": self._errors,
            "GenerateImportTargetErrorKeysFile": self._generate_keys,
            "GetImportTargetErrorKeysFileUrl": self._keys_url,
            "GetImportStagingErrorFileUrl": self._staging_url,
            "GetEntityExecutionSummaryStatusList": self._entity_statuses,
        }

    def close(self) -> None:
        """Stop the worker after the execution it runs (the rest stay as they are)."""
        self._queue.put(None)
        self._worker.join(timeout=30)

    def history(self) -> list[Record]:
        """The executions, oldest first, as rows of the job history export."""
        with self._lock:
            return [e.history() for e in self.executions.values()]

    # routing ----------------------------------------------------------------------------------

    def route(self, call: Call, path: str) -> Reply | None:
        """The answer to a request of the package API; None when it is not one."""
        if path == HISTORY:
            self._only(call, "GET")
            return self._values(call, HISTORY, self.history())
        if path == SET:
            self._only(call, "GET")
            with self._lock:
                groups = list(self.groups.values())
            return self._values(call, SET, groups)
        if not path.startswith(_PREFIX):
            return None
        action = self._actions.get(path[len(_PREFIX) :])
        if action is None:
            raise ApiError(400, f"The action {path[len(_PREFIX) :]} is not served by the emulator.")
        self._only(call, "POST")
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return action(call, body)

    def _only(self, call: Call, method: str) -> None:
        if call.method != method:
            raise ApiError(405, f"The HTTP verb {call.method} is not allowed here; use {method}.")

    def _values(self, call: Call, name: str, values: list[Record]) -> Reply:
        return json_reply(200, {"@odata.context": f"{call.root}$metadata#{name}", "value": values})

    def _value(self, call: Call, value: Any, kind: str = "Edm.String") -> Reply:
        return json_reply(200, {"@odata.context": f"{call.root}$metadata#{kind}", "value": value})

    def _execution(self, body: Record) -> Execution:
        found = self.executions.get(str(body.get("executionId") or ""))
        if found is None:
            raise ApiError(400, f"Execution {body.get('executionId')!r} was not found.")
        return found

    @staticmethod
    def _base(call: Call) -> str:
        scheme, _, rest = call.root.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    # the actions ------------------------------------------------------------------------------

    def _write_url(self, call: Call, body: Record) -> Reply:
        name = str(body.get("uniqueFileName") or "").strip()
        if not name:
            raise ApiError(400, "uniqueFileName is required.")
        self.blobs.path(name)  # refuses a name a blob cannot have
        url = self.blobs.signed_url(self._base(call), name, "rw")
        blob_id = "{" + str(uuid.uuid4()).upper() + "}"
        return self._value(call, json.dumps({"BlobId": blob_id, "BlobUrl": url}))

    def _import(self, call: Call, body: Record) -> Reply:
        group = str(body.get("definitionGroupId") or "").strip()
        if not group:
            raise ApiError(400, "definitionGroupId is required.")
        name = _blob_name(str(body.get("packageUrl") or ""))
        if name is None or not self.blobs.exists(name):
            raise ApiError(400, f"The package at {body.get('packageUrl')!r} could not be read.")
        with self._lock:
            execution_id = str(body.get("executionId") or "").strip()
            if execution_id in self.executions:  # asked twice: imported once
                return self._value(call, execution_id)
            if not execution_id:
                stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
                execution_id = f"{group}-{stamp}-{uuid.uuid4().hex[:8].upper()}"
            self.groups.setdefault(
                group,
                {"DefinitionGroupId": group, "CreatedDateTime": _now(), "Description": group},
            )
            self.executions[execution_id] = Execution(
                execution_id,
                group,
                name,
                str(body.get("legalEntityId") or ""),
                bool(body.get("execute", True)),
            )
        self._queue.put(execution_id)
        return self._value(call, execution_id)

    def _status(self, call: Call, body: Record) -> Reply:
        with self._lock:
            found = self.executions.get(str(body.get("executionId") or ""))
            status = found.status if found is not None else "Unknown"
        return self._value(call, status)

    def _errors(self, call: Call, body: Record) -> Reply:
        execution = self._execution(body)
        return self._value(call, json.dumps(execution.errors))

    def _generate_keys(self, call: Call, body: Record) -> Reply:
        execution = self._execution(body)
        errors = execution.target_errors
        if errors:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(execution.key_columns)
            for error in errors:
                writer.writerow([error["Key"].get(k, "") for k in execution.key_columns])
            self.blobs.put(_keys_file(execution), text.getvalue().encode("utf-8-sig"))
        return self._value(call, bool(errors), "Edm.Boolean")

    def _keys_url(self, call: Call, body: Record) -> Reply:
        execution = self._execution(body)
        name = _keys_file(execution)
        ready = self.blobs.exists(name)
        return self._value(
            call, self.blobs.signed_url(self._base(call), name, "r") if ready else ""
        )

    def _staging_url(self, call: Call, body: Record) -> Reply:
        execution = self._execution(body)
        if not execution.staging_rows:
            return self._value(call, "")
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(execution.columns)
        writer.writerows(execution.staging_rows)
        name = f"{execution.execution_id}-staging-errors.csv"
        self.blobs.put(name, text.getvalue().encode("utf-8-sig"))
        return self._value(call, self.blobs.signed_url(self._base(call), name, "r"))

    def _entity_statuses(self, call: Call, body: Record) -> Reply:
        execution = self._execution(body)
        value = [{"EntityName": execution.entity, "ExecutionStatus": execution.status}]
        return self._value(call, json.dumps(value))

    # the worker -------------------------------------------------------------------------------

    def _work(self) -> None:
        while (execution_id := self._queue.get()) is not None:
            execution = self.executions[execution_id]
            started = time.monotonic()
            if self.settings.package_start_ms:
                time.sleep(self.settings.package_start_ms / 1000)
            execution.started_at = datetime.now(UTC)
            execution.status = "Executing"
            data = self.blobs.get(execution.package) or b""
            try:
                self.runner.run(execution, data)
            except Exception as exc:  # the job fails; the service goes on
                execution.errors.append(
                    {
                        "EntityName": execution.entity,
                        "Key": {},
                        "FieldName": None,
                        "ErrorMessage": f"The import stopped: {exc}",
                        "Stage": "Target",
                    }
                )
                execution.status = "Failed"
            execution.ended_at = datetime.now(UTC)
            execution.server_seconds = time.monotonic() - started


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob_name(url: str) -> str | None:
    path = url.split("?", 1)[0]
    marker = "/blob/dmf/"
    if marker not in path:
        return None
    return path.split(marker, 1)[1] or None


def _keys_file(execution: Execution) -> str:
    return f"{execution.execution_id}-target-error-keys.csv"
