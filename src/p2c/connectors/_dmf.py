"""The Data management package API of F&O: the actions p2c calls, as methods.

Every action is ``POST <url>/data/DataManagementDefinitionGroups/
Microsoft.Dynamics.DataEntities.<Action>`` with a JSON body and answers ``{"value": …}``
(Microsoft's "Data management package REST API"; the names, bodies and statuses below are
EXACT from it). Where the answer's shape is not documented, p2c's reading of it is marked
INFERRED: the error list of ``GetExecutionErrors`` and the error files' columns.
"""

from __future__ import annotations

__all__ = ["TERMINAL", "DataManagement", "ExecutionError"]

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2c._errors import ConnectionFailed
from p2c.connectors._http import ApiSession, Call
from p2c.connectors._policy import Action, classify

_ACTIONS = "DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
# The statuses of DMFExecutionSummaryStatus after which nothing changes any more.
TERMINAL = frozenset({"Succeeded", "PartiallySucceeded", "Failed", "Canceled"})
_MAX_POLL = 30.0


@dataclass(frozen=True)
class ExecutionError:
    """One error of an execution (``GetExecutionErrors``; its shape is INFERRED).

    Attributes:
        entity: The entity's name in data management.
        key: The record's key fields (upper case, as in the data file) and values; empty
            for an error of the execution as a whole.
        field: The field at fault, where F&O names one.
        message: F&O's message.
        stage: ``Staging`` (the file to the staging table) or ``Target`` (staging to the
            entity).
    """

    entity: str
    key: dict[str, str]
    field: str | None
    message: str
    stage: str


class DataManagement:
    """Calls of the package API on one F&O session.

    Args:
        session: The OData session of the environment (``<url>/data/``).
        poll: Seconds before the first status poll; the wait doubles up to 30 s.
        timeout: Seconds to wait for an execution before giving up.
    """

    def __init__(self, session: ApiSession, poll: float, timeout: float) -> None:
        self.session = session
        self.poll = poll
        self.timeout = timeout

    def _action(self, name: str, body: dict[str, Any]) -> Any:
        answer = self.session.send(Call("POST", _ACTIONS + name, body))
        if not answer.ok or not isinstance(answer.body, dict):
            raise self.session.failure(answer, name)
        return answer.body.get("value")

    # import -------------------------------------------------------------------------------------

    def write_url(self, file_name: str) -> str:
        """``GetAzureWriteUrl``: a blob URL with a shared access signature to upload to."""
        value = self._action("GetAzureWriteUrl", {"uniqueFileName": file_name})
        try:
            return str(json.loads(value)["BlobUrl"])
        except (TypeError, ValueError, KeyError):
            raise ConnectionFailed(
                f"{self.session.label}: GetAzureWriteUrl answered {str(value)[:200]!r}, not a "
                "blob URL."
            ) from None

    def upload(self, url: str, data: bytes) -> None:
        """PUT the package to the blob URL (its signature is in the URL: no token)."""
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/zip"}
        answer = self.session.send(Call("PUT", url, headers=headers), raw=data, signed=False)
        if not answer.ok:
            raise self.session.failure(answer, "uploading the data package")

    def import_package(self, url: str, group: str, execution_id: str, legal_entity: str) -> str:
        """``ImportFromPackage``: import into data project ``group`` as execution
        ``execution_id`` (the job id), staging and target steps both (``execute``)."""
        body = {
            "packageUrl": url,
            "definitionGroupId": group,
            "executionId": execution_id,
            "execute": True,
            "overwrite": True,
            "legalEntityId": legal_entity,
        }
        return str(self._action("ImportFromPackage", body) or execution_id)

    # status -------------------------------------------------------------------------------------

    def status(self, execution_id: str) -> str:
        """``GetExecutionSummaryStatus``; ``Unknown`` for an execution F&O does not have (it
        may also answer 400 "…were not found": the same, INFERRED)."""
        call = Call("POST", _ACTIONS + "GetExecutionSummaryStatus", {"executionId": execution_id})
        answer = self.session.send(call)
        if answer.ok and isinstance(answer.body, dict):
            return str(answer.body.get("value") or "Unknown")
        if classify(answer.status).action is Action.FAIL_RECORD and not answer.exhausted:
            return "Unknown"
        raise self.session.failure(answer, "GetExecutionSummaryStatus")

    def wait(self, execution_id: str, waiting: Callable[[], None]) -> str:
        """Poll the status with backoff until the execution ends; its last status.

        Raises:
            ConnectionFailed: still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + self.timeout
        pause = self.poll
        while True:
            status = self.status(execution_id)
            if status in TERMINAL or status == "Unknown":
                return status
            waiting()
            if time.monotonic() + pause > deadline:
                raise ConnectionFailed(
                    f"{self.session.label}: data management execution {execution_id} is still "
                    f"{status} after {self.timeout:g} s.",
                    fix="run again later: the next run asks for this execution's outcome and "
                    "does not import its package again (package_timeout sets the wait)",
                )
            time.sleep(pause)
            pause = min(_MAX_POLL, pause * 2)

    # errors -------------------------------------------------------------------------------------

    def errors(self, execution_id: str) -> list[ExecutionError]:
        """``GetExecutionErrors``: the execution's errors (a JSON list, INFERRED: each with
        the entity, the record's key, the field and the message)."""
        value = self._action("GetExecutionErrors", {"executionId": execution_id})
        items = json.loads(value) if isinstance(value, str) and value else (value or [])
        found = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                found.append(
                    ExecutionError(
                        str(item.get("EntityName") or ""),
                        {str(k): str(v) for k, v in (item.get("Key") or {}).items()},
                        item.get("FieldName") or None,
                        str(item.get("ErrorMessage") or ""),
                        str(item.get("Stage") or "Target"),
                    )
                )
            elif item:
                found.append(ExecutionError("", {}, None, str(item), "Target"))
        return found

    def target_error_keys(
        self, execution_id: str, entity: str, waiting: Callable[[], None]
    ) -> list[dict[str, str]]:
        """The keys of the records that failed from staging to the target:
        ``GenerateImportTargetErrorKeysFile``, then ``GetImportTargetErrorKeysFileUrl`` until
        it names the file, then the file (CSV, a header of the key fields: INFERRED)."""
        body = {"executionId": execution_id, "entityName": entity}
        if not self._action("GenerateImportTargetErrorKeysFile", body):
            return []
        pause = self.poll
        deadline = time.monotonic() + self.timeout
        while not (url := self._action("GetImportTargetErrorKeysFileUrl", body)):
            if time.monotonic() + pause > deadline:
                raise ConnectionFailed(
                    f"{self.session.label}: the error keys file of execution {execution_id} "
                    f"was not ready after {self.timeout:g} s.",
                    fix="run again later: the next run asks for it again",
                )
            waiting()
            time.sleep(pause)
            pause = min(_MAX_POLL, pause * 2)
        return self._rows(str(url), "the error keys file")

    def staging_errors(self, execution_id: str, entity: str) -> list[dict[str, str]]:
        """The input records that failed from the file to staging
        (``GetImportStagingErrorFileUrl``; the file has the data file's columns: INFERRED)."""
        body = {"executionId": execution_id, "entityName": entity}
        url = self._action("GetImportStagingErrorFileUrl", body)
        return self._rows(str(url), "the staging error file") if url else []

    def _rows(self, url: str, what: str) -> list[dict[str, str]]:
        answer = self.session.send(Call("GET", url, headers={"Accept": "*/*"}), signed=False)
        if not answer.ok:
            raise self.session.failure(answer, f"downloading {what}")
        text = answer.text.removeprefix("\ufeff")
        return list(csv.DictReader(io.StringIO(text)))
