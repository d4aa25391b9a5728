"""The ``p2c`` command as a user runs it: files on disk, exit statuses, messages.

Successful commands run in-process through typer's CliRunner on ``p2c.cli.app``. Failing
ones run through ``p2c.cli.main`` (in-process, or as ``python -m p2c``), because that is
where p2c errors become a message and an exit status.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from p2c.cli import app, main
from p2c.workspace import Workspace

ACC = "11111111-1111-4111-8111-111111111111"
CON = "22222222-2222-4222-8222-222222222222"
KID = "33333333-3333-4333-8333-333333333333"
SOLO = "44444444-4444-4444-8444-444444444444"
NUMBER = re.compile(r"^CON-\d{5}-[A-Z0-9]{6}$")

DIRECT = {
    "Accounts (Sales to Fin and Ops) - Direct",
    "Contacts (Sales to Fin and Ops) - Direct",
    "Contacts to Customer (Sales to Fin and Ops) - Direct",
}
VIA_CDS = {
    "Accounts (Sales to Fin and Ops)",
    "Contacts (Sales to Fin and Ops)",
    "Contacts to Customer (Sales to Fin and Ops)",
}

# An account; a contact of it who has a quote; a contact whose company is that contact; a
# contact with no company.
DOCUMENT: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"accountid": ACC, "name": "Fabrikam", "address1_city": "Seattle"}],
    "contacts": [
        {
            "contactid": CON,
            "firstname": "Ann",
            "lastname": "Lee",
            "emailaddress1": "ann@example.com",
            "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
        },
        {
            "contactid": KID,
            "firstname": "Bo",
            "lastname": "Berg",
            "parentcustomerid_contact@odata.bind": f"/contacts({CON})",
        },
        {"contactid": SOLO, "lastname": "Solo", "address1_country": "Sweden"},
    ],
    "quotes": [{"name": "Deal", "customerid_contact@odata.bind": f"/contacts({CON})"}],
}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P2C_WORKSPACE", raising=False)
    monkeypatch.delenv("P2C_DEBUG", raising=False)


@pytest.fixture
def p2c(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``p2c ARGS`` through ``main()``, as the console script does."""

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


def invoke(*args: object) -> Result:
    """A command that must succeed, through CliRunner on the typer app."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return Result(result.exit_code, result.stdout, result.stderr)


def export(ws: Path, env: str, entity: str) -> list[dict[str, Any]]:
    records = json.loads(invoke("sandbox", "export", env, entity, "--workspace", ws).stdout)
    assert isinstance(records, list)
    return records


def write(path: Path, content: object) -> Path:
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    invoke("init", tmp_path / "ws")
    return tmp_path / "ws"


# init ----------------------------------------------------------------------------------------


def test_init_creates_direct_workspace(tmp_path: Path) -> None:
    result = invoke("init", tmp_path / "ws")
    root = tmp_path / "ws"
    assert (root / "p2c.yaml").is_file()
    assert (root / "sandbox" / "sales.db").is_file()
    assert (root / "sandbox" / "finops.db").is_file()
    assert not (root / "sandbox" / "cds.db").exists()
    config = Workspace.open(root).config
    assert {p.name for p in config.projects} == DIRECT
    assert all(name in result.stdout for name in DIRECT)
    (mapping,) = config.connection_sets["sandbox"].organizations
    assert mapping.legal_entity == "usmf"
    assert [e["LegalEntityId"] for e in export(root, "finops", "LegalEntities")].count("usmf") == 1


def test_init_via_cds_adds_the_hub_and_its_projects(tmp_path: Path) -> None:
    invoke("init", tmp_path / "ws", "--via-cds")
    root = tmp_path / "ws"
    assert (root / "sandbox" / "cds.db").is_file()
    names = {p.name for p in Workspace.open(root).config.projects}
    assert names == VIA_CDS
    assert not any(" - Direct" in name for name in names)
    organizations = export(root, "cds", "Organization")
    assert [o["OrganizationId"] for o in organizations] == ["ORG001"]


def test_init_no_p2c_has_no_numbers_until_the_upgrade(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    invoke("init", root, "--no-p2c")
    invoke("sandbox", "load", "sales", write(tmp_path / "load.json", DOCUMENT), "-w", root)
    before = export(root, "sales", "contacts")
    assert len(before) == 3
    assert all("msdynce_contactnumber" not in c for c in before)
    assert all("msdynce_isactivecustomer" not in c for c in before)

    invoke("sales", "upgrade", "--workspace", root)
    after = {c["contactid"]: c for c in export(root, "sales", "contacts")}
    assert all(NUMBER.match(c["msdynce_contactnumber"]) for c in after.values())
    assert len({c["msdynce_contactnumber"] for c in after.values()}) == 3
    assert after[CON]["msdynce_isactivecustomer"] is True
    assert after[KID]["msdynce_isactivecustomer"] is False
    assert after[CON]["msdynce_iscompanyanaccount"] is True
    assert after[KID]["msdynce_iscompanyanaccount"] is False
    (account,) = export(root, "sales", "accounts")
    assert account["accountnumber"].startswith("ACC-")


def test_init_into_an_existing_workspace_fails(ws: Path, p2c: Run) -> None:
    config = (ws / "p2c.yaml").read_text(encoding="utf-8")
    result = p2c("init", ws)
    assert result.code == 2
    assert "already holds a workspace" in result.stderr
    assert (ws / "p2c.yaml").read_text(encoding="utf-8") == config


# load and export -----------------------------------------------------------------------------


def test_load_then_export_round_trip(ws: Path, tmp_path: Path) -> None:
    result = invoke("sandbox", "load", "sales", write(tmp_path / "load.json", DOCUMENT), "-w", ws)
    assert "1 accounts, 3 contacts, 1 quotes" in result.stdout

    contacts = {c["contactid"]: c for c in export(ws, "sales", "contacts")}
    assert set(contacts) == {CON, KID, SOLO}
    for body in DOCUMENT["contacts"]:
        stored = contacts[body["contactid"]]
        for column, value in body.items():
            if not column.endswith("@odata.bind"):
                assert stored[column] == value, column
    ann, bo, solo = contacts[CON], contacts[KID], contacts[SOLO]
    assert (ann["parentcustomerid"], ann["parentcustomeridtype"]) == (ACC, "account")
    assert ann["_parentcustomerid_value"] == ACC
    assert (bo["parentcustomerid"], bo["parentcustomeridtype"]) == (CON, "contact")
    assert solo["parentcustomerid"] is None
    assert ann["fullname"] == "Ann Lee"
    assert [c["msdynce_iscompanyanaccount"] for c in (ann, bo, solo)] == [True, False, False]
    assert [c["msdynce_isactivecustomer"] for c in (ann, bo, solo)] == [True, False, False]
    assert all(NUMBER.match(c["msdynce_contactnumber"]) for c in contacts.values())

    (account,) = export(ws, "sales", "accounts")
    assert (account["accountid"], account["name"], account["address1_city"]) == (
        ACC,
        "Fabrikam",
        "Seattle",
    )
    (quote,) = export(ws, "sales", "quotes")
    assert (quote["customerid"], quote["customeridtype"]) == (CON, "contact")


_GOOD_ACCOUNT = {"accountid": ACC, "name": "Fabrikam"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(
            '{"contacts": [\n  {"lastname": "A",}\n]}',
            ["line 2 column 20", "not valid JSON"],
            id="malformed-json",
        ),
        pytest.param([{"lastname": "A"}], ["expected a JSON object"], id="top-level-array"),
        pytest.param(
            {"accounts": [_GOOD_ACCOUNT], "leads": [{"lastname": "A"}]},
            ["leads", "unknown entity set 'leads'", "contacts"],
            id="unknown-entity-set",
        ),
        pytest.param(
            {
                "accounts": [_GOOD_ACCOUNT],
                "contacts": [{"lastname": "A"}, {"lastname": "B", "fristname": "Bo"}],
            },
            ["contacts[1]", "field fristname", "did you mean 'firstname'?"],
            id="unknown-column",
        ),
        pytest.param(
            {
                "contacts": [
                    {"lastname": "A", "parentcustomerid_account@odata.bind": f"/accounts({ACC})"}
                ]
            },
            ["contacts[0]", "field parentcustomerid_account@odata.bind", ACC, "Does Not Exist"],
            id="bind-to-missing-record",
        ),
        pytest.param(
            {"accounts": [_GOOD_ACCOUNT], "contacts": [{"lastname": 5}]},
            ["contacts[0]", "field lastname", "expects text, got int 5"],
            id="wrong-type",
        ),
        pytest.param(
            {"accounts": [_GOOD_ACCOUNT], "contacts": [{"lastname": "x" * 51}]},
            ["contacts[0]", "field lastname", "51 characters", "maximum length is 50"],
            id="over-max-length",
        ),
    ],
)
def test_bad_load_file_is_refused_whole(
    ws: Path, tmp_path: Path, p2c: Run, content: object, words: list[str]
) -> None:
    result = p2c("sandbox", "load", "sales", write(tmp_path / "bad.json", content), "-w", ws)
    assert result.code == 3
    for word in words:
        assert word in result.stderr
    assert "nothing was" in result.stderr.lower()
    assert "is required" not in result.stderr  # a wrong value is not also "missing"
    assert result.stdout == ""
    sales = Workspace.open(ws).sales()
    assert (sales.count("accounts"), sales.count("contacts")) == (0, 0)


def test_load_of_a_missing_file(ws: Path, tmp_path: Path, p2c: Run) -> None:
    result = p2c("sandbox", "load", "sales", tmp_path / "nothing.json", "-w", ws)
    assert result.code == 3
    assert "nothing.json does not exist" in result.stderr


def test_export_unknown_entity_suggests_the_real_name(ws: Path, p2c: Run) -> None:
    result = p2c("sandbox", "export", "finops", "Customers", "-w", ws)
    assert result.code == 2
    assert "did you mean 'CustomersV2'" in result.stderr
    assert result.stdout == ""


def test_export_unknown_environment(ws: Path, p2c: Run) -> None:
    result = p2c("sandbox", "export", "nope", "x", "-w", ws)
    assert result.code == 2
    assert "'nope'" in result.stderr and "sales, finops or cds" in result.stderr
    assert result.stdout == ""


def test_export_cds_of_a_direct_workspace(ws: Path, p2c: Run) -> None:
    result = p2c("sandbox", "export", "cds", "Contact", "-w", ws)
    assert result.code == 2
    assert "--via-cds" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("sandbox", "export", "sales", "contacts"),
        ("sandbox", "load", "sales", "load.json"),
        ("sales", "upgrade"),
    ],
)
def test_workspace_option_without_p2c_yaml(tmp_path: Path, p2c: Run, args: tuple[str, ...]) -> None:
    write(tmp_path / "load.json", DOCUMENT)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = p2c(*[str(tmp_path / a) if a.endswith(".json") else a for a in args], "-w", empty)
    assert result.code == 2
    assert "No workspace" in result.stderr and "p2c.yaml" in result.stderr
    assert result.stdout == ""


# upgrade and quickstart ----------------------------------------------------------------------


def test_upgrade_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    invoke("init", root, "--no-p2c")
    invoke("sandbox", "load", "sales", write(tmp_path / "load.json", DOCUMENT), "-w", root)
    first = invoke("sales", "upgrade", "-w", root)
    assert "Contact numbers assigned: 3" in first.stdout
    assert "Contacts marked Is Active Customer: 1" in first.stdout
    assert "Nothing to change" not in first.stdout

    def numbers() -> dict[str, str]:
        contacts = export(root, "sales", "contacts")
        return {c["contactid"]: c["msdynce_contactnumber"] for c in contacts}

    before = numbers()
    second = invoke("sales", "upgrade", "-w", root)
    assert "Contact numbers assigned: 0" in second.stdout
    assert "Nothing to change" in second.stdout
    assert numbers() == before


def test_quickstart_builds_a_numbered_sales(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    invoke("quickstart", root)
    contacts = export(root, "sales", "contacts")
    assert len(contacts) == 40
    assert all(NUMBER.match(c["msdynce_contactnumber"]) for c in contacts)
    assert any(c["msdynce_isactivecustomer"] for c in contacts)
    assert all(a["accountnumber"] for a in export(root, "sales", "accounts"))


def test_quickstart_into_an_existing_workspace_fails(ws: Path, p2c: Run) -> None:
    result = p2c("quickstart", ws)
    assert result.code == 2
    assert "already holds a workspace" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["init"], "Missing argument"),
        (["quickstart", "--contacts", "many"], "Invalid value for '--contacts'"),
    ],
)
def test_usage_errors_exit_2(p2c: Run, args: list[str], words: str) -> None:
    result = p2c(*args)
    assert result.code == 2
    assert words in result.stderr
    assert "internal error" not in result.stderr


# the console script, as a separate process -----------------------------------------------------


def python_m_p2c(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    return subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_p2c_exit_statuses(tmp_path: Path) -> None:
    created = python_m_p2c("init", "ws", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "ws" / "p2c.yaml").is_file()

    wrong_entity = python_m_p2c(
        "sandbox", "export", "finops", "Customers", "-w", "ws", cwd=tmp_path
    )
    assert wrong_entity.returncode == 2
    assert wrong_entity.stdout == ""
    assert "did you mean 'CustomersV2'" in wrong_entity.stderr

    write(tmp_path / "bad.json", '{"contacts": [')
    bad = python_m_p2c("sandbox", "load", "sales", "bad.json", "-w", "ws", cwd=tmp_path)
    assert bad.returncode == 3
    assert "line 1 column" in bad.stderr

    again = python_m_p2c("init", "ws", cwd=tmp_path)
    assert again.returncode == 2

    # The current directory is the default workspace.
    listed = python_m_p2c("sandbox", "export", "sales", "contacts", cwd=tmp_path / "ws")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []

    for run in (created, wrong_entity, bad, again, listed):
        assert "Traceback" not in run.stdout + run.stderr


# change tracking -----------------------------------------------------------------------------


def test_track_changes_turns_the_table_option_on_and_off(ws: Path, p2c: Run) -> None:
    from p2c.dynamics import SALES

    def tracked() -> set[str]:
        sales = Workspace.open(ws).sales()
        try:
            return {n for n in ("contact", "account") if sales.changes.enabled(SALES.entity(n))}
        finally:
            sales.close()

    assert tracked() == set()
    assert (
        "on for contacts, accounts"
        in invoke("sandbox", "track-changes", "contacts", "accounts", "-w", ws).stdout
    )
    assert tracked() == {"contact", "account"}
    invoke("sandbox", "track-changes", "accounts", "--off", "-w", ws)
    assert tracked() == {"contact"}
    unknown = p2c("sandbox", "track-changes", "leads", "-w", ws)
    assert unknown.code == 2 and "has no entity set 'leads'" in unknown.stderr
