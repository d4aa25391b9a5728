"""The commands that edit p2c.yaml: ``mapping set|remove|reset|filter``, ``projects add``,
``templates save``, ``schedule set|clear|notify``: the diff, the same checks as p2c.yaml
gets (exit 2, nothing written), ``--dry-run``, and the audit log."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2c.cli import main
from p2c.service import AccessStore, Schedule, ServiceStore
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def p2c(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``p2c ARGS`` through ``main()``, as the console script does."""
    monkeypatch.delenv("P2C_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: object) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["p2c", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        stdout, stderr = capsys.readouterr()
        assert "Traceback" not in stdout + stderr
        return Result(code, stdout, stderr)

    return run


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    init_workspace(tmp_path / "ws")
    return tmp_path / "ws"


def config(ws: Path) -> str:
    return (ws / CONFIG_FILE).read_text(encoding="utf-8")


def test_mapping_set_shows_the_diff_and_saves(ws: Path, p2c: Run) -> None:
    value_map = '{from: address1_country, value_map: {"": "13", Sweden: "21"}, else: "13"}'
    done = p2c(
        "mapping",
        "set",
        "-w",
        ws,
        "contacts to customer",
        "ContactToCustomer",
        "WarehouseId",
        value_map,
    )
    assert done.code == 0, done.stderr
    assert "+        WarehouseId:" in done.stdout or "+        WarehouseId: {" in done.stdout
    assert "Saved p2c.yaml" in done.stdout
    leg = Workspace.open(ws).project(CUSTOMERS).effective_template().tasks[0].legs[0]
    assert leg.map["WarehouseId"].value_map == {"": "13", "Sweden": "21"}  # type: ignore[union-attr]
    store = ServiceStore(Workspace.open(ws).state_url())
    try:
        entry = AccessStore(store.engine).audit_log(5)[0]
    finally:
        store.close()
    assert entry.action == "mapping.set" and entry.actor.startswith("cli")
    assert "map WarehouseId" in entry.detail["summary"]


def test_dry_run_writes_nothing(ws: Path, p2c: Run) -> None:
    before = config(ws)
    done = p2c(
        "mapping",
        "set",
        "-w",
        ws,
        CUSTOMERS,
        "ContactToCustomer",
        "SiteId",
        '{default: "1"}',
        "--dry-run",
    )
    assert done.code == 0
    assert '+        SiteId: {default: "1"}' in done.stdout
    assert "Dry run: p2c.yaml not written." in done.stdout
    assert config(ws) == before


def test_a_refused_edit_exits_2_and_writes_nothing(ws: Path, p2c: Run) -> None:
    before = config(ws)
    done = p2c(
        "mapping", "set", "-w", ws, CUSTOMERS, "ContactToCustomer", "SiteID", '{default: "1"}'
    )
    assert done.code == 2
    assert "Not saved" in done.stderr
    assert "key projects.2.tasks.ContactToCustomer.map.SiteID" in done.stderr
    assert "did you mean 'SiteId'?" in done.stderr
    assert "+        SiteID" in done.stderr  # the diff the lines refer to
    assert config(ws) == before
    bad = p2c("mapping", "set", "-w", ws, CUSTOMERS, "ContactToCustomer", "SiteId", "{default:")
    assert bad.code == 2 and "is no YAML" in bad.stderr


def test_remove_reset_and_filter(ws: Path, p2c: Run) -> None:
    fresh = config(ws)
    assert (
        p2c("mapping", "remove", "-w", ws, CUSTOMERS, "ContactToCustomer", "PersonMiddleName").code
        == 0
    )
    assert p2c("mapping", "filter", "-w", ws, CUSTOMERS, "ContactToCustomer", "all").code == 0
    assert "remove: [PersonMiddleName]" in config(ws) and "filter: all" in config(ws)
    assert (
        p2c("mapping", "reset", "-w", ws, CUSTOMERS, "ContactToCustomer", "PersonMiddleName").code
        == 0
    )
    assert p2c("mapping", "filter", "-w", ws, CUSTOMERS, "ContactToCustomer").code == 0
    assert config(ws) == fresh
    again = p2c("mapping", "reset", "-w", ws, CUSTOMERS, "ContactToCustomer", "PersonMiddleName")
    assert again.code == 0 and "nothing to change" in again.stdout


def test_projects_add_and_templates_save(ws: Path, p2c: Run) -> None:
    done = p2c(
        "projects",
        "add",
        "-w",
        ws,
        "Customers (Contoso)",
        "--template",
        "contacts to customer (sales to fin and ops) - direct",
    )
    assert done.code == 2 and "did you mean" in done.stderr  # template names are exact
    done = p2c(
        "projects",
        "add",
        "-w",
        ws,
        "Customers (Contoso)",
        "-t",
        CUSTOMERS,
        "--business-unit",
        "Contoso Sales",
        "--alias",
        "cc",
    )
    assert done.code == 0, done.stderr
    assert Workspace.open(ws).find_project("cc").business_unit == "Contoso Sales"
    assert "cc" in p2c("projects", "-w", ws).stdout
    done = p2c("templates", "save", "-w", ws, "cc", "Contoso customers")
    assert done.code == 0, done.stderr
    assert (ws / "templates" / "contoso-customers.yaml").exists()
    assert Workspace.open(ws).templates.get("Contoso customers").tasks
    listed = p2c("templates", "-w", ws).stdout
    assert "Contoso customers (direct, saved in the workspace)" in listed
    assert p2c("templates", "save", "-w", ws, "cc", "Contoso customers").code == 2


def test_schedule_set_notify_and_clear(ws: Path, p2c: Run) -> None:
    assert p2c("schedule", "set", "-w", ws, "contacts", "--every", "15m").code == 0
    done = p2c(
        "schedule", "notify", "-w", ws, "contacts", "--email", "ops@example.com", "--on", "error"
    )
    assert done.code == 0, done.stderr
    project = Workspace.open(ws).find_project("contacts")
    assert project.schedule == Schedule(every="15m")
    assert project.notify is not None and project.notify.email == ["ops@example.com"]
    assert project.notify.on == ["error"]
    assert "every 15m" in p2c("schedule", "-w", ws).stdout
    wrong = p2c("schedule", "set", "-w", ws, "contacts", "--every", "15m", "--cron", "0 * * * *")
    assert wrong.code == 2 and "not both" in wrong.stderr
    assert p2c("schedule", "notify", "-w", ws, "contacts", "--email", "nobody").code == 2
    assert p2c("schedule", "clear", "-w", ws, "contacts").code == 0
    assert p2c("schedule", "notify", "-w", ws, "contacts").code == 0  # nobody
    project = Workspace.open(ws).find_project("contacts")
    assert project.schedule is None and project.notify is None
