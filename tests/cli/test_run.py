"""``p2c quickstart``, ``run``, ``history``, ``errors``, ``templates`` and ``projects`` as a
user runs them: ``python -m p2c`` in a separate process, output read off the terminal tables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_data import ATLANTIS, WITH_A_BAD_CONTACT
from screens import task_rows

from p2c.workspace import Workspace, init_workspace

DIRECT = (
    "Accounts (Sales to Fin and Ops) - Direct",
    "Contacts (Sales to Fin and Ops) - Direct",
    "Contacts to Customer (Sales to Fin and Ops) - Direct",
)
VIA_CDS = (
    "Accounts (Sales to Fin and Ops)",
    "Contacts (Sales to Fin and Ops)",
    "Contacts to Customer (Sales to Fin and Ops)",
)
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str


def p2c(*args: object, cwd: Path | None = None) -> Done:
    """``python -m p2c ARGS`` with no terminal and no COLUMNS: the width of a pipe (100)."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("P2C_WORKSPACE", "P2C_DEBUG", "COLUMNS")
    }
    environment["PYTHONIOENCODING"] = "utf-8"
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        encoding="utf-8",
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout
    return Done(done.returncode, done.stdout, done.stderr)


def summary(done: Done) -> dict[tuple[str, str], dict[str, int]]:
    """The run summary: (project, leg) -> counts, from what ``p2c run`` prints."""
    return {(row.project, row.leg): row.counts for row in task_rows(done.stdout)}


def statuses(done: Done) -> dict[tuple[str, str], str]:
    return {(row.project, row.leg): row.status for row in task_rows(done.stdout)}


@dataclass(frozen=True)
class Quickstart:
    root: Path
    first: Done
    second: Done


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Quickstart:
    """``p2c quickstart DIR`` then ``p2c run -w DIR`` once for the module (they are slow-ish)."""
    folder = tmp_path_factory.mktemp("cli-run")
    first = p2c("quickstart", "demo", "--contacts", "30", cwd=folder)
    second = p2c("run", "-w", folder / "demo")
    return Quickstart(folder / "demo", first, second)


def test_quickstart_prints_a_summary_table(quickstart: Quickstart) -> None:
    done = quickstart.first
    assert done.code == 0, done.stdout + done.stderr
    assert (quickstart.root / "p2c.yaml").is_file()
    assert "loaded " in done.stdout and "30 contacts" in done.stdout
    assert "Upgrade script:" in done.stdout
    assert "Run 1: Completed" in done.stdout
    header = next(line for line in done.stdout.splitlines() if line.startswith("project"))
    assert header.split() == ["project", "/", "task", "status", *COUNTS]
    table = summary(done)
    assert {project for project, _ in table} == set(DIRECT)
    for key, counts in table.items():
        assert counts["read"] > 0, key
        assert counts["created"] == counts["read"], key
        assert counts["failed"] == counts["updated"] == counts["unchanged"] == 0, key
    assert set(statuses(done).values()) == {"Completed"}
    assert "p2c run" in done.stdout  # what to try next
    finops = Workspace.open(quickstart.root).finops()
    try:
        customers = list(finops.export("CustomersV2"))
    finally:
        finops.close()
    assert len(customers) == sum(
        counts["created"]
        for (project, _), counts in table.items()
        if project in (DIRECT[0], DIRECT[2])
    )


def test_run_again_prints_unchanged_counts(quickstart: Quickstart) -> None:
    done = quickstart.second
    assert done.code == 0, done.stdout + done.stderr
    assert "Run 2" in done.stdout
    first, again = summary(quickstart.first), summary(done)
    assert set(again) == set(first)
    for key, counts in again.items():
        assert counts["created"] == counts["updated"] == counts["failed"] == 0, key
        assert counts["unchanged"] == counts["read"] == first[key]["read"], key
    assert "Some records failed" not in done.stdout


RUN_LINE = re.compile(
    r"^Run (\d+)  (\w+)  (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) - (\S+) UTC \(([\d.]+ s)\), by (\S+)$"
)


def test_history_lists_both_runs(quickstart: Quickstart) -> None:
    done = p2c("history", "--workspace", quickstart.root)
    assert done.code == 0, done.stderr
    rows = task_rows(done.stdout)
    assert len(rows) == 2 * len(DIRECT)
    # Each run's line: id, status, start and end, duration, what started it; newest first.
    runs = [RUN_LINE.match(line) for line in done.stdout.splitlines() if line.startswith("Run ")]
    assert all(runs) and [m.group(1) for m in runs if m] == ["2", "1"]
    for match in runs:
        assert match is not None
        assert (match.group(2), match.group(6)) == ("Completed", "command")
    # Then its task legs with their status and counts.
    assert {row.status for row in rows} == {"Completed"}
    assert {row.project for row in rows} == set(DIRECT)
    assert {row.run for row in rows} == {1, 2}
    first = {row.project: row.counts for row in rows if row.run == 1}
    assert first == {project: counts for (project, _), counts in summary(quickstart.first).items()}


def test_projects_show_their_last_status(quickstart: Quickstart, tmp_path: Path) -> None:
    done = p2c("projects", "-w", quickstart.root)
    assert done.code == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert re.split(r"  +", header) == ["project", "short name", "set", "last status"]
    rows = {re.split(r"  +", line)[0]: re.split(r"  +", line)[1:] for line in lines}
    assert set(rows) == set(DIRECT)
    for name, cells in rows.items():
        # The name to type (`p2c run contacts`), the connection set and the last status.
        assert cells == [name.split(" (")[0], "sandbox", "Completed"]

    fresh = tmp_path / "fresh"
    init_workspace(fresh, via_cds=True)
    done = p2c("projects", "-w", fresh, "--json")
    assert done.code == 0, done.stderr
    projects = json.loads(done.stdout)["projects"]
    assert {p["name"] for p in projects} == set(VIA_CDS)
    assert {p["last_status"] for p in projects} == {None}
    assert "never run" in p2c("projects", "-w", fresh).stdout


def test_templates_lists_the_six_built_in_templates() -> None:
    done = p2c("templates", "--json")
    assert done.code == 0, done.stderr
    by_name = {t["name"]: t for t in json.loads(done.stdout)["templates"]}
    assert set(by_name) == {*DIRECT, *VIA_CDS}
    assert by_name[DIRECT[1]]["generation"] == "direct"
    assert by_name[VIA_CDS[1]]["generation"] == "via-cds"
    assert by_name[DIRECT[2]]["requires"] == [DIRECT[0]]  # requires the Accounts template
    assert by_name[VIA_CDS[2]]["requires"] == [VIA_CDS[0]]
    assert by_name[VIA_CDS[1]]["tasks"] == [
        {"name": "Contacts", "legs": ["Source > CDS", "CDS > Destination"]}
    ]
    text = p2c("templates").stdout
    assert f"{VIA_CDS[2]} (via-cds)" in text.splitlines()
    assert f"  requires {VIA_CDS[0]}" in text.splitlines()


@pytest.mark.parametrize("via_cds", [False, True], ids=["direct", "via-cds"])
def test_errors_of_a_run_with_failures(tmp_path: Path, via_cds: bool) -> None:
    root = tmp_path / "ws"
    sales = init_workspace(root, via_cds=via_cds).sales()
    try:
        sales.load(WITH_A_BAD_CONTACT)
        number = {c["contactid"]: c for c in sales.export("contacts")}[ATLANTIS][
            "msdynce_contactnumber"
        ]
    finally:
        sales.close()

    run = p2c("run", "-w", root)

    assert run.code == 1, run.stdout + run.stderr
    assert "p2c errors 1" in run.stdout
    projects = VIA_CDS if via_cds else DIRECT
    final_leg = "CDS > Destination" if via_cds else "Source > Destination"
    table, status = summary(run), statuses(run)
    assert status[(projects[1], final_leg)] == "Warning"
    assert table[(projects[1], final_leg)]["failed"] == 1
    assert table[(projects[1], final_leg)]["created"] == 1
    assert status[(projects[0], final_leg)] == "Completed"
    assert table[(projects[2], final_leg)]["created"] == 1

    errors = p2c("errors", "1", "-w", root)

    assert errors.code == 0, errors.stderr
    lines = errors.stdout.splitlines()
    assert lines[:2] == ["Run 1: 1 failed record(s)", f"{projects[1]} / {'Contacts'}"]
    # Named by its key in F&O, whole on its line; then the source record: the Sales
    # contact, or via CDS the hub's record of it.
    assert re.match(rf"  usmf/{number}/ACC-\d{{5}}-\w{{6}}( |$)", lines[2])
    source = "source key " + (f"ORG001/{number}" if via_cds else ATLANTIS)
    (at,) = [i for i, line in enumerate(lines) if line.endswith(source)]
    assert at in (2, 3)  # on the key's line when it fits there
    # The field and the reason, wrapped under it.
    (fix_at,) = [i for i, line in enumerate(lines) if line.startswith("    fix: ")]
    reason = " ".join(line.strip() for line in lines[at + 1 : fix_at])
    assert reason.startswith("PrimaryAddressCountryRegionISOCode: The value 'Atlantis'")
    assert "'Countries/regions'" in reason
    # Then the fix: where the value comes from and what to change, as the admin center says.
    fix = " ".join(line.strip() for line in lines[fix_at:])
    origin = (
        "the Contact's MailingAddress_Country in CDS (which the leg Source > CDS copies from "
        "the contact's address1_country in Sales)"
        if via_cds
        else "the contact's address1_country in Sales"
    )
    assert fix.startswith(
        f"fix: PrimaryAddressCountryRegionISOCode is mapped from {origin}, and its value map "
        "has no entry for 'Atlantis'"
    ), fix
    assert "with `p2c mapping set`" in fix
    assert fix.endswith(f"then `p2c retry --record {source.removeprefix('source key ')}`.")


def test_errors_of_a_run_that_does_not_exist(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)

    done = p2c("errors", "999", "-w", root)

    assert done.code == 2
    assert "no run 999" in done.stderr
    assert "p2c history" in done.stderr  # the fix
    assert done.stdout == ""


def test_errors_of_a_run_without_failures(quickstart: Quickstart) -> None:
    done = p2c("errors", "1", "-w", quickstart.root)
    assert done.code == 0, done.stderr
    assert "Run 1 has no record errors." in done.stdout


def test_run_of_a_project_the_workspace_does_not_have(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)

    done = p2c("run", "Contacts (Sales to Fin and Ops) - Typo", "-w", root)

    assert done.code == 2, done.stderr  # a usage error, not an internal one (70)
    assert "has no project 'Contacts (Sales to Fin and Ops) - Typo'" in done.stderr
    assert DIRECT[1] in done.stderr  # the fix lists the projects there are
    assert "Run 1" not in done.stdout
