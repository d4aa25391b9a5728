"""F&O through the Data management package API, end to end against the emulator: the same
F&O content and the same rejections as the OData path, a run killed while an import runs
resumes by asking for it, and ``write: auto`` sends the trickle of later runs over OData."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from connector_world import emulator_connections, use_connection_set
from engine_scenarios import BASE
from test_end_to_end import content, run
from test_rejections import BAD

from p2c import ExitCode
from p2c.emulator import EmulatorSettings, serve
from p2c.engine import StateStore
from p2c.sandbox import sample_document
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

F_O = ("CustomersV2", "CDSContactPersons", "Parties")


def connections(running: Any, **finops: Any) -> dict[str, Any]:
    """The emulator's connection set, with F&O settings of its own."""
    found = emulator_connections(running, batch_size=20)
    found["finops"].update(package_poll=0.05, **finops)
    return found


def errors_of(root: Path, run_id: int) -> list[tuple[str, str | None, str]]:
    state = StateStore(Workspace.open(root).state_url())
    try:
        return sorted((e.source_key, e.field, e.message) for e in state.errors(run_id))
    finally:
        state.close()


def lineage_of(root: Path) -> list[tuple[str, str, str, str]]:
    state = StateStore(Workspace.open(root).state_url())
    try:
        return sorted((r.project, r.task, r.source_key, r.destination_key) for r in state.lineage())
    finally:
        state.close()


@pytest.fixture
def copies(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Copies of one loaded workspace (with records F&O rejects), one per way of writing."""
    first = tmp_path / "odata"
    init_workspace(first)
    sales = Workspace.open(first).sales()
    sales.load(copy.deepcopy(BASE))
    sales.load(copy.deepcopy(BAD))
    sales.load(sample_document(40))
    sales.close()
    found = {"odata": first}
    for name in ("package", "auto", "killed"):
        shutil.copytree(first, tmp_path / name)
        found[name] = tmp_path / name
    yield found


def test_package_path_writes_what_odata_writes_and_rejects_alike(
    copies: dict[str, Path],
) -> None:
    results = {}
    for write in ("odata", "package"):
        root = copies[write]
        with serve(root) as running:
            use_connection_set(root, "emulator", connections(running, write=write))
            results[write] = run(root)
            history = running.job_history()
        if write == "odata":
            assert history == []
        else:
            # One import per task, in the data project named after the p2c project.
            projects = {p.name for p in Workspace.open(root).config.projects}
            assert {h["DefinitionGroupId"] for h in history} == projects
            assert {h["Status"] for h in history} == {"Succeeded", "PartiallySucceeded"}
            assert sum(h["Errors"] for h in history) == 2
    odata, package = results["odata"], results["package"]
    assert package.exit_code == odata.exit_code == ExitCode.FAILED_RECORDS
    for ours, theirs in zip(package.tasks, odata.tasks, strict=True):
        assert ours.status == theirs.status
        assert ours.counts == theirs.counts, (ours, theirs)
    for entity in F_O:
        assert content(copies["package"], "finops", entity) == content(
            copies["odata"], "finops", entity
        )
    # Each rejected record is queued with key, field and reason as on the OData path.
    rejected = errors_of(copies["package"], package.run_id)
    assert rejected == errors_of(copies["odata"], odata.run_id)
    assert len(rejected) == 2
    assert any("is 30 characters long" in message for *_, message in rejected)
    assert lineage_of(copies["package"]) == lineage_of(copies["odata"])


def test_auto_packages_a_first_sync_and_sends_the_trickle_over_odata(
    copies: dict[str, Path],
) -> None:
    root = copies["auto"]
    with serve(root) as running:
        use_connection_set(
            root, "emulator", connections(running, write="auto", package_threshold=20)
        )
        first = run(root)
        imports = running.job_history()
        # Tasks with more than 20 records to write were packaged, the others went over OData.
        packaged = {t.project for t in first.tasks if t.counts.created + t.counts.failed > 20}
        assert packaged
        assert {h["DefinitionGroupId"] for h in imports} == packaged
        sales = Workspace.open(root).sales()
        contact = next(iter(sales.export("contacts")))
        sales.update("contacts", contact["contactid"], {"jobtitle": "Buyer"})
        sales.close()
        again = run(root)
        assert running.job_history() == imports  # the rerun went over OData
    assert first.exit_code == again.exit_code == ExitCode.FAILED_RECORDS
    assert sum(t.counts.created + t.counts.updated for t in again.tasks) <= 1


def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_run_killed_while_an_import_runs_asks_for_it_and_never_imports_twice(
    copies: dict[str, Path],
) -> None:
    root, expected = copies["killed"], copies["odata"]
    run(expected)  # in-process: what F&O must hold in the end
    settings = EmulatorSettings(package_start_ms=1500)
    with serve(root, settings) as running:
        use_connection_set(root, "emulator", connections(running, write="package"))
        environment = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        environment.pop("P2C_WORKSPACE", None)
        child = subprocess.Popen(
            [sys.executable, "-m", "p2c", "run", "-w", str(root)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(lambda: running.job_history(), 60)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
        (pending,) = running.job_history()
        assert pending["Status"] in ("NotRun", "Executing")
        result = run(root)
        history = running.job_history()
    assert history[0]["ExecutionId"] == pending["ExecutionId"]
    assert len({h["ExecutionId"] for h in history}) == len(history)
    # Every record was staged once: the pending package was not imported again.
    stored = sum(len(content(root, "finops", e)) for e in ("CustomersV2", "CDSContactPersons"))
    assert sum(h["StagingRecords"] for h in history) == stored + 2  # + the 2 rejected
    assert any("left pending by run" in (t.message or "") for t in result.tasks)
    for entity in F_O:
        assert content(root, "finops", entity) == content(expected, "finops", entity)
    assert result.exit_code == ExitCode.FAILED_RECORDS


def test_a_task_larger_than_a_package_goes_as_several_and_a_rerun_imports_nothing_new(
    copies: dict[str, Path],
) -> None:
    root, expected = copies["package"], copies["odata"]
    run(expected)  # in-process: what F&O must hold
    with serve(root) as running:
        use_connection_set(root, "emulator", connections(running, write="package", package_size=9))
        small_pages(root, 4)
        first = run(root)
        imports = running.job_history()
        again = run(root)
        more = running.job_history()[len(imports) :]
    written = sum(t.counts.created for t in first.tasks)
    assert len(imports) >= written // 12  # units of 9 to 12 records (pages of 4)
    assert sum(h["StagingRecords"] for h in imports) == written + 2  # + the 2 rejected
    # The rerun reads the records too recent for the cursor again: only the two records
    # F&O rejected are sent again (and rejected again); the others are unchanged.
    assert sum(h["StagingRecords"] for h in more) == 2
    assert sum(t.counts.created + t.counts.updated for t in again.tasks) == 0
    for entity in F_O:
        assert content(root, "finops", entity) == content(expected, "finops", entity)
    assert len(lineage_of(root)) == written


def small_pages(root: Path, size: int) -> None:
    path = root / CONFIG_FILE
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for project in config["projects"]:
        project["batch_size"] = size
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
