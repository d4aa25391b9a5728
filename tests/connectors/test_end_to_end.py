"""The engine, ``p2c run``, ``p2c connections test`` and ``p2c sales upgrade`` with the
projects pointed at the emulator: the same F&O content as the in-process run."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_world import emulator_connections, use_connection_set
from engine_scenarios import BASE, run_p2c

from p2c import ExitCode
from p2c.engine import Engine, RunOptions, StateStore
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace

_STAMPS = {"createdon", "modifiedon", "createddatetime", "modifieddatetime"}


def run(root: Path) -> Any:
    ws = Workspace.open(root)
    state = StateStore(ws.state_url())
    try:
        return Engine(ws, state).run(None)
    finally:
        state.close()


def content(root: Path, system: str, entity: str) -> list[str]:
    ws = Workspace.open(root)
    store = ws.finops() if system == "finops" else ws.cds()
    try:
        # Timestamps say when each run wrote; everything else must be equal.
        return sorted(
            json.dumps({k: v for k, v in r.items() if k.lower() not in _STAMPS}, sort_keys=True)
            for r in store.export(entity)
        )
    finally:
        store.close()


@pytest.fixture
def twins(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Path]]:
    """Two copies of one loaded workspace: ``local`` stays in-process, ``remote`` is served."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    init_workspace(local, via_cds=getattr(request, "param", "direct") == "via-cds")
    sales = Workspace.open(local).sales()
    sales.load(copy.deepcopy(BASE))
    sales.load(sample_document(30))
    sales.close()
    shutil.copytree(local, remote)
    yield local, remote


@pytest.mark.parametrize("twins", ["direct", "via-cds"], indirect=True)
def test_engine_through_the_emulator_gives_the_in_process_result(
    twins: tuple[Path, Path],
) -> None:
    from p2c.emulator import EmulatorSettings, serve

    local, remote = twins
    expected = run(local)
    assert expected.exit_code == ExitCode.OK
    with serve(remote, EmulatorSettings(requests_per_window=40, window_seconds=1.0)) as running:
        use_connection_set(remote, "emulator", emulator_connections(running, batch_size=7))
        result = run(remote)
        assert result.exit_code == ExitCode.OK, result.tasks
        assert [(t.project, t.leg, t.counts.read, t.counts.created) for t in result.tasks] == [
            (t.project, t.leg, t.counts.read, t.counts.created) for t in expected.tasks
        ]
        again = run(remote)
        assert all(t.counts.unchanged == t.counts.read - t.counts.skipped for t in again.tasks)
        assert sum(t.counts.created + t.counts.updated for t in again.tasks) == 0
    for entity in ("CustomersV2", "CDSContactPersons"):
        assert content(remote, "finops", entity) == content(local, "finops", entity)
    if Workspace.open(local).config.generation == "via-cds":
        for entity in ("Account", "Contact"):
            assert content(remote, "cds", entity) == content(local, "cds", entity)


def test_p2c_run_and_connections_test_on_the_command_line(twins: tuple[Path, Path]) -> None:
    from p2c.emulator import serve

    _, remote = twins
    with serve(remote) as running:
        use_connection_set(remote, "emulator", emulator_connections(running))
        checked = run_p2c("connections", "test", "-c", "emulator", "-w", remote)
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.count("ok") == 2
        result = run_p2c("run", "-w", remote)
        assert result.returncode == 0, result.stderr
        assert len(content(remote, "finops", "CustomersV2")) > 0


def test_a_wrong_secret_is_explained_and_never_shown(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from p2c.emulator import serve

    _, remote = twins
    wrong = "not-the-secret-1234"
    monkeypatch.setenv("P2C_WRONG_SECRET", wrong)
    with serve(remote) as running:
        connections = emulator_connections(running, client_secret_env="P2C_WRONG_SECRET")
        use_connection_set(remote, "emulator", connections)
        checked = run_p2c("connections", "test", "-w", remote)
        assert checked.returncode == ExitCode.CONNECTION
        output = checked.stdout + checked.stderr
        assert "emulator/finops" in output and "emulator/sales" in output
        assert "AADSTS7000215" in output
        assert "Certificates & secrets" in output  # the fix
        assert wrong not in output
        assert "emulator-secret" not in output
        result = run_p2c("run", "-w", remote)
        assert result.returncode == ExitCode.CONNECTION
        assert wrong not in result.stdout + result.stderr


def test_an_application_user_without_a_role_is_explained(twins: tuple[Path, Path]) -> None:
    from p2c.emulator import EmulatorSettings, serve

    _, remote = twins
    with serve(remote, EmulatorSettings(without_role=("sales",))) as running:
        use_connection_set(remote, "emulator", emulator_connections(running))
        checked = run_p2c("connections", "test", "-c", "emulator", "-w", remote)
    assert checked.returncode == ExitCode.CONNECTION
    assert "failed emulator/sales" in checked.stderr
    assert "permission denied (403)" in checked.stderr
    assert "0x80040220" in checked.stderr or "missing prvRead" in checked.stderr
    assert "security role" in checked.stderr  # the fix
    assert "ok" in checked.stdout and "emulator/finops" in checked.stdout


def test_unreachable_and_missing_secret_are_explained(twins: tuple[Path, Path]) -> None:
    from p2c.emulator import serve

    _, remote = twins
    with serve(remote) as running:
        connections = emulator_connections(running, client_secret_env="P2C_NOT_SET_ANYWHERE")
    # The emulator has stopped: its port is closed.
    connections["finops"]["client_secret_env"] = "P2C_EMULATOR_SECRET"
    use_connection_set(remote, "emulator", connections)
    checked = run_p2c("connections", "test", "-c", "emulator", "-w", remote)
    assert checked.returncode == ExitCode.CONNECTION
    assert "P2C_NOT_SET_ANYWHERE" in checked.stderr  # sales: the variable is not set
    assert "cannot reach" in checked.stderr  # finops: nothing listens


def test_sales_upgrade_through_the_web_api_matches_the_in_process_script(
    tmp_path: Path,
) -> None:
    from p2c.emulator import serve

    local, remote = tmp_path / "local", tmp_path / "remote"
    init_workspace(local, with_p2c=False)
    sales = Workspace.open(local).sales()
    sales.load(sample_document(25))
    sales.solution.install()  # installed by an administrator; the back-fill is still to do
    sales.close()
    shutil.copytree(local, remote)
    expected = run_p2c("sales", "upgrade", "-w", local)
    assert expected.returncode == 0, expected.stderr
    with serve(remote) as running:
        use_connection_set(remote, "emulator", emulator_connections(running, batch_size=10))
        upgraded = run_p2c("sales", "upgrade", "-c", "emulator", "-w", remote)
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stdout == expected.stdout
        again = run_p2c("sales", "upgrade", "-c", "emulator", "-w", remote)
        assert "Contact numbers assigned: 0" in again.stdout
        assert "Nothing to change" in again.stdout

    def contacts(root: Path) -> dict[str, tuple[Any, ...]]:
        store = Workspace.open(root).sales()
        try:
            return {
                c["contactid"]: (
                    c["msdynce_contactnumber"][:9],  # the counter; the suffix is random
                    c["msdynce_isactivecustomer"],
                    c["msdynce_iscompanyanaccount"],
                )
                for c in store.export("contacts")
            }
        finally:
            store.close()

    assert contacts(remote) == contacts(local)


def test_sales_upgrade_needs_the_solution_installed(tmp_path: Path) -> None:
    from p2c.emulator import serve

    root = tmp_path / "ws"
    init_workspace(root, with_p2c=False)
    with serve(root) as running:
        use_connection_set(root, "emulator", emulator_connections(running))
        result = run_p2c("sales", "upgrade", "-c", "emulator", "-w", root)
    assert result.returncode == ExitCode.PREREQUISITE
    assert "msdynce_ProspectToCashIntegration" in result.stderr


@pytest.mark.parametrize("twins", ["direct", "via-cds"], indirect=True)
def test_throttling_and_server_faults_lose_nothing(twins: tuple[Path, Path]) -> None:
    """429s and injected 503/500s: records are retried, or queued as retryable and written
    by the next run; in the end F&O holds exactly what the in-process run wrote."""
    from p2c.emulator import EmulatorSettings, serve

    local, remote = twins
    assert run(local).exit_code == ExitCode.OK
    settings = EmulatorSettings(
        requests_per_window=2, window_seconds=1.0, fault_rate=0.15, fault_seed=3
    )
    with serve(remote, settings) as running:
        use_connection_set(remote, "emulator", emulator_connections(running, batch_size=5))
        runs = [run(remote)]
        while any(t.counts.failed for t in runs[-1].tasks) and len(runs) < 6:
            runs.append(run(remote))
        stats = running.stats
        assert stats.throttled > 0 and stats.faults > 0, stats
    assert runs[-1].exit_code == ExitCode.OK, [t.counts for r in runs for t in r.tasks]
    state = StateStore(Workspace.open(remote).state_url())
    try:
        assert state.queue() == []
        history = [e for r in runs for e in state.errors(r.run_id)]
        assert all(e.retryable for e in history), history
    finally:
        state.close()
    for entity in ("CustomersV2", "CDSContactPersons"):
        assert content(remote, "finops", entity) == content(local, "finops", entity)


def test_a_dry_run_through_the_connectors_previews_and_writes_nothing(
    twins: tuple[Path, Path],
) -> None:
    from p2c.emulator import serve

    _, remote = twins
    with serve(remote) as running:
        use_connection_set(remote, "emulator", emulator_connections(running))
        run(remote)
        sales = Workspace.open(remote).sales()
        try:
            (person,) = [
                r["contactid"] for r in sales.export("contacts") if r["lastname"] == "Persson"
            ]
            sales.update("contacts", person, {"emailaddress1": "per@changed.example"})
        finally:
            sales.close()
        before = content(remote, "finops", "CDSContactPersons")
        ws = Workspace.open(remote)
        state = StateStore(ws.state_url())
        try:
            preview = Engine(ws, state).run(None, RunOptions(dry_run=True))
        finally:
            state.close()
        assert content(remote, "finops", "CDSContactPersons") == before
    (contacts,) = [t for t in preview.tasks if t.task == "Contacts"]
    assert (contacts.counts.updated, contacts.counts.created) == (1, 0)
    assert any("per@changed.example" in e for e in contacts.examples), contacts.examples


def test_dataverse_change_tracking_delta_links_drive_incremental_runs(
    twins: tuple[Path, Path],
) -> None:
    from p2c.dynamics import SALES
    from p2c.emulator import serve

    _, remote = twins
    sales = Workspace.open(remote).sales()
    try:
        for entity in ("contact", "account"):
            sales.changes.enable(SALES.entity(entity))
        (person,) = [r["contactid"] for r in sales.export("contacts") if r["lastname"] == "Persson"]
    finally:
        sales.close()
    with serve(remote) as running:
        use_connection_set(remote, "emulator", emulator_connections(running))
        first = run(remote)
        assert first.exit_code == ExitCode.OK
        state = StateStore(Workspace.open(remote).state_url())
        try:
            links = [c.delta for c in state.cursors()]
        finally:
            state.close()
        assert links and all(link and "%24deltatoken=" in link for link in links), links

        sales = Workspace.open(remote).sales()
        try:
            sales.update("contacts", person, {"emailaddress1": "per@delta.example"})
        finally:
            sales.close()
        second = run(remote)
    (contacts,) = [t for t in second.tasks if t.task == "Contacts"]
    assert (contacts.counts.read, contacts.counts.updated) == (1, 1)
    assert sum(t.counts.read for t in second.tasks) == 1
    written = [json.loads(r) for r in content(remote, "finops", "CDSContactPersons")]
    assert "per@delta.example" in {r["PrimaryEmailAddress"] for r in written}
