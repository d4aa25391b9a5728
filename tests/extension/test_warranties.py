"""A template task for an entity pair p2c does not ship, end to end through the engine with
no engine change: only YAML (warranties.yaml), a model entry per system and one rules class
(warranty_extension.py). docs/extending.md walks through exactly this."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from warranty_extension import warranty_extension

from p2c.engine import Engine, RunResult, StateStore
from p2c.workspace import TEMPLATES_FOLDER, Workspace, init_workspace

HERE = Path(__file__).parent
ACCOUNT_ID = "6f1d2a40-0000-4000-8000-000000000001"
TEMPLATE = "Warranties (Sales to Fin and Ops) - Test"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    with warranty_extension():
        root = tmp_path / "ws"
        init_workspace(root)
        (root / TEMPLATES_FOLDER).mkdir()
        shutil.copy(HERE / "warranties.yaml", root / TEMPLATES_FOLDER / "warranties.yaml")
        config = yaml.safe_load((root / "p2c.yaml").read_text(encoding="utf-8"))
        config["projects"].append({"name": "Warranties", "template": TEMPLATE})
        (root / "p2c.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        ws = Workspace.open(root)
        with closing(ws.sales()) as sales:
            sales.load(
                {
                    "accounts": [{"accountid": ACCOUNT_ID, "name": "Fabrikam"}],
                    "msdyn_warranties": [
                        _warranty("Pump", "SN-1", 1, account=f"/accounts({ACCOUNT_ID})"),
                        _warranty("Valve", "SN-2", 2, account=f"/accounts({ACCOUNT_ID})"),
                        _warranty("Loose part", "SN-3", 1, account=None),
                    ],
                }
            )
        yield ws


def _warranty(name: str, serial: str, coverage: int, account: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "msdyn_name": name,
        "msdyn_serialnumber": serial,
        "msdyn_coverage": coverage,
        "msdyn_enddate": "2028-06-30T00:00:00Z",
    }
    if account:
        body["msdyn_customerid@odata.bind"] = account
    return body


def _run(ws: Workspace, *projects: str) -> RunResult:
    with closing(StateStore(ws.state_url())) as state:
        return Engine(ws, state).run(list(projects) or None)


def _warranties(ws: Workspace) -> dict[str, dict[str, Any]]:
    with closing(ws.finops()) as finops:
        return {r["WarrantyNumber"]: r for r in finops.export("CustomerWarranties")}


def test_the_extension_task_runs_after_its_prerequisite_and_writes_the_new_entity(
    workspace: Workspace,
) -> None:
    result = _run(workspace)
    assert [t.project for t in result.tasks][-1] == "Warranties"
    warranties = _warranties(workspace)
    assert sorted(warranties) == ["SN-1", "SN-2"]  # SN-3 has no customer: the filter
    account = warranties["SN-1"]["CustomerAccount"]
    assert account.startswith("ACC-")
    assert warranties["SN-1"] | {"CustomerAccount": "?"} == {
        "dataAreaId": "usmf",
        "WarrantyNumber": "SN-1",
        "CustomerAccount": "?",
        "Description": "Pump / SN-1",
        "Coverage": "Parts",
        "EndDate": "2028-06-30T00:00:00Z",
        "IsInactive": "No",
    }
    assert warranties["SN-2"]["Coverage"] == "PartsAndLabour"


def test_the_rules_class_rejects_with_its_own_message_and_the_record_waits_in_the_queue(
    workspace: Workspace,
) -> None:
    _run(workspace)
    account = _warranties(workspace)["SN-1"]["CustomerAccount"]
    with closing(workspace.finops()) as finops:  # the customer is gone from F&O
        finops.delete("CustomersV2", {"dataAreaId": "usmf", "CustomerAccount": account})
    _touch(workspace, "Pump", {"msdyn_name": "Pump 2"})
    (task,) = _run(workspace, "Warranties").tasks
    assert task.counts.failed == 1
    with closing(StateStore(workspace.state_url())) as state:
        (queued,) = state.queue()
    assert queued.field == "CustomerAccount"
    assert queued.message == f"Customer account {account} does not exist in company usmf."


def _touch(ws: Workspace, name: str, changes: dict[str, Any]) -> None:
    with closing(ws.sales()) as sales:
        (found,) = [w for w in sales.export("msdyn_warranties") if w["msdyn_name"] == name]
        sales.update("msdyn_warranties", found["msdyn_warrantyid"], changes)


def test_deactivation_follows_the_models_activity_of_both_entities(
    workspace: Workspace,
) -> None:
    _run(workspace)
    config = yaml.safe_load((workspace.root / "p2c.yaml").read_text(encoding="utf-8"))
    config["projects"][-1]["on_inactive"] = "deactivate"
    (workspace.root / "p2c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    ws = Workspace.open(workspace.root)
    _touch(ws, "Pump", {"statecode": 1})
    _run(ws, "Warranties")
    warranties = _warranties(ws)
    assert (warranties["SN-1"]["IsInactive"], warranties["SN-2"]["IsInactive"]) == ("Yes", "No")
