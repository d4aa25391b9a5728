"""F&O's Data management package API on the emulator, called as any client would: a blob URL
with a signature, the package uploaded there, an asynchronous import through F&O's rules,
its status, errors and error files, and the job history."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from typing import Any

import httpx
from emulator_helpers import Api

from p2c.dynamics import DataFileWriter, PackageEntity, package_header, package_manifest
from p2c.emulator import EmulatorSettings, serve

ACTION = "DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
COLUMNS = ("DATAAREAID", "CUSTOMERACCOUNT", "ORGANIZATIONNAME", "CUSTOMERGROUPID")


def action(api: Api, name: str, **body: Any) -> httpx.Response:
    return api.request("finops", "POST", ACTION + name, json=body)


def value(api: Api, name: str, **body: Any) -> Any:
    answer = action(api, name, **body)
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def package(rows: list[list[Any]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    data = io.BytesIO()
    entity = PackageEntity("Customers V2", "Customers V2.csv", columns)
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("PackageHeader.xml", package_header("Test"))
        archive.writestr("Manifest.xml", package_manifest("Test", "Test", [entity]))
        file = io.BytesIO()
        writer = DataFileWriter(file, columns)
        for row in rows:
            writer.write(row)
        writer.close()
        archive.writestr(entity.file, file.getvalue())
    return data.getvalue()


def upload(api: Api, name: str, data: bytes) -> str:
    url = json.loads(value(api, "GetAzureWriteUrl", uniqueFileName=name))["BlobUrl"]
    put = api.client.put(url, content=data, headers={"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 201, put.text
    return str(url)


def wait(api: Api, execution: str) -> str:
    for _ in range(500):
        status = value(api, "GetExecutionSummaryStatus", executionId=execution)
        if status not in ("NotRun", "Executing"):
            return str(status)
        time.sleep(0.02)
    raise AssertionError("the import did not end")


def rows(api: Api, url: str) -> list[dict[str, str]]:
    answer = api.client.get(url)
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_an_import_writes_through_the_rules_and_reports_each_rejection(api: Api) -> None:
    data = package(
        [
            ["USMF", "PK-1", "One", "10"],
            ["usmf", "PK-2", "Two", "99"],  # no such customer group
            ["usmf", "PK-3", None, "10"],  # no name
            ["usmf", "PK-4", 'With "quotes", commas', "10"],
        ]
    )
    url = upload(api, "first.zip", data)
    body = {"packageUrl": url, "definitionGroupId": "Customers", "executionId": "JOB-1"}
    started = value(api, "ImportFromPackage", **body, execute=True, overwrite=True)
    assert started == "JOB-1"
    assert wait(api, "JOB-1") == "PartiallySucceeded"
    errors = json.loads(value(api, "GetExecutionErrors", executionId="JOB-1"))
    by_key = {e["Key"]["CUSTOMERACCOUNT"]: e for e in errors}
    assert set(by_key) == {"PK-2", "PK-3"}
    assert by_key["PK-2"]["FieldName"] == "CustomerGroupId"
    assert "'99'" in by_key["PK-2"]["ErrorMessage"]
    # The wording of the OData face: the same Infolog text.
    odata = api.request(
        "finops",
        "POST",
        "CustomersV2",
        json={
            "dataAreaId": "usmf",
            "CustomerAccount": "X",
            "OrganizationName": "X",
            "CustomerGroupId": "99",
        },
    )
    assert odata.json()["error"]["innererror"]["message"] == by_key["PK-2"]["ErrorMessage"].replace(
        "PK-2", "X"
    )
    keys = {"executionId": "JOB-1", "entityName": "Customers V2"}
    assert value(api, "GenerateImportTargetErrorKeysFile", **keys) is True
    keys_url = value(api, "GetImportTargetErrorKeysFileUrl", **keys)
    assert {r["CUSTOMERACCOUNT"] for r in rows(api, keys_url)} == {"PK-2", "PK-3"}
    assert value(api, "GetImportStagingErrorFileUrl", **keys) == ""
    stored = api.get(
        "finops", "CustomersV2", params={"$filter": "startswith(CustomerAccount,'PK')"}
    )
    names = {r["CustomerAccount"]: r["OrganizationName"] for r in stored.json()["value"]}
    assert names == {"PK-1": "One", "PK-4": 'With "quotes", commas'}
    (job,) = api.get("finops", "DataManagementJobHistory").json()["value"]
    assert (job["DefinitionGroupId"], job["Status"], job["Created"], job["Errors"]) == (
        "Customers",
        "PartiallySucceeded",
        2,
        2,
    )
    groups = api.get("finops", "DataManagementDefinitionGroups").json()["value"]
    assert [g["DefinitionGroupId"] for g in groups] == ["Customers"]


def test_an_execution_is_imported_once_and_an_unknown_one_is_unknown(api: Api) -> None:
    url = upload(api, "once.zip", package([["usmf", "ONCE", "Once", "10"]]))
    body = {"packageUrl": url, "definitionGroupId": "Once", "executionId": "JOB-ONCE"}
    assert value(api, "ImportFromPackage", **body) == "JOB-ONCE"
    assert value(api, "ImportFromPackage", **body) == "JOB-ONCE"  # asked again: the same job
    assert wait(api, "JOB-ONCE") == "Succeeded"
    history = api.get("finops", "DataManagementJobHistory").json()["value"]
    assert [(h["ExecutionId"], h["StagingRecords"]) for h in history] == [("JOB-ONCE", 1)]
    assert value(api, "GetExecutionSummaryStatus", executionId="NEVER") == "Unknown"
    assert (
        value(
            api,
            "GenerateImportTargetErrorKeysFile",
            executionId="JOB-ONCE",
            entityName="Customers V2",
        )
        is False
    )
    # A new execution id is made when none is given.
    made = value(api, "ImportFromPackage", packageUrl=url, definitionGroupId="Once")
    assert made.startswith("Once-")


def test_a_package_that_cannot_be_read_fails_as_a_whole(api: Api) -> None:
    url = upload(api, "bad.zip", b"not a zip")
    value(api, "ImportFromPackage", packageUrl=url, definitionGroupId="Bad", executionId="BAD")
    assert wait(api, "BAD") == "Failed"
    (error,) = json.loads(value(api, "GetExecutionErrors", executionId="BAD"))
    assert error["Key"] == {} and "could not be read" in error["ErrorMessage"]
    unknown = upload(
        api, "unknown.zip", package([["usmf", "U", "U", "10"]], ("DATAAREAID", "NOPE"))
    )
    value(api, "ImportFromPackage", packageUrl=unknown, definitionGroupId="Bad", executionId="U")
    assert wait(api, "U") == "Failed"
    missing = action(
        api,
        "ImportFromPackage",
        packageUrl=url.replace("bad.zip", "none.zip"),
        definitionGroupId="Bad",
    )
    assert missing.status_code == 400
    assert action(api, "ExportToPackage", definitionGroupId="Bad").status_code == 400


def test_the_blob_container_checks_its_signatures(api: Api) -> None:
    url = json.loads(value(api, "GetAzureWriteUrl", uniqueFileName="signed.zip"))["BlobUrl"]
    assert "/blob/dmf/signed.zip?" in url and "sig=" in url
    forged = url.replace("sig=", "sig=A")
    refused = api.client.put(forged, content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
    assert refused.status_code == 403
    assert b"AuthenticationFailed" in refused.content
    other = url.replace("signed.zip", "other.zip")
    assert (
        api.client.put(other, content=b"x", headers={"x-ms-blob-type": "BlockBlob"}).status_code
        == 403
    )
    assert api.client.put(url, content=b"x").status_code == 400  # x-ms-blob-type is required
    assert (
        api.client.put(url, content=b"x", headers={"x-ms-blob-type": "BlockBlob"}).status_code
        == 201
    )
    assert api.client.get(url).content == b"x"
    assert api.client.delete(url).status_code == 405


def test_the_cost_model_delays_imports_and_odata_writes(workspace: Any) -> None:
    settings = EmulatorSettings(package_start_ms=300, package_record_ms=50, odata_record_ms=100)
    with serve(workspace, settings) as running:
        api = Api(running)
        try:
            started = time.monotonic()
            created = api.request(
                "finops",
                "POST",
                "CustomersV2",
                json={
                    "dataAreaId": "usmf",
                    "CustomerAccount": "T",
                    "OrganizationName": "T",
                    "CustomerGroupId": "10",
                },
            )
            assert created.status_code == 201
            assert time.monotonic() - started >= 0.1
            url = upload(api, "cost.zip", package([["usmf", f"C{i}", "C", "10"] for i in range(4)]))
            value(
                api,
                "ImportFromPackage",
                packageUrl=url,
                definitionGroupId="Cost",
                executionId="COST",
            )
            assert value(api, "GetExecutionSummaryStatus", executionId="COST") == "NotRun"
            assert wait(api, "COST") == "Succeeded"
            (job,) = running.job_history()
            assert job["ServerSeconds"] >= 0.3 + 4 * 0.05
        finally:
            api.close()
