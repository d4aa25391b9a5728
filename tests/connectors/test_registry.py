"""The registry of connection types: one entry per ``type`` of p2c.yaml, what each serves,
what opening a connection gives, and a type nobody registered refused with a clear message.
(What each type does with real data is the conformance suite's: test_*_connector.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2c import ConfigError
from p2c.connectors import (
    CONNECTION_TYPES,
    ConnectionSettings,
    DataverseConnection,
    DataverseDestination,
    DataverseSource,
    DryRun,
    FinOpsConnection,
    FinOpsDestination,
    FinOpsSource,
    SandboxConnection,
    SandboxDestination,
    SandboxSource,
    check_connection,
    connection_label,
    connection_type,
    open_destination,
    open_source,
)
from p2c.workspace import ConnectionSet, Workspace, init_workspace

ORGANIZATIONS = [{"business_unit": "Contoso Sales", "legal_entity": "usmf"}]
HTTP = {
    "tenant": "contoso.onmicrosoft.com",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret_env": "P2C_NOT_NEEDED_TO_OPEN",
}
DATAVERSE = DataverseConnection.model_validate(
    {"type": "dataverse", "url": "https://contoso.crm.dynamics.com", **HTTP}
)
FINOPS = FinOpsConnection.model_validate(
    {"type": "finops", "url": "https://contoso.operations.dynamics.com", **HTTP}
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_workspace(tmp_path / "ws", via_cds=True)
    return tmp_path / "ws"


@pytest.mark.parametrize(
    ("name", "config", "systems", "writes", "dry_run"),
    [
        ("sandbox", SandboxConnection, ("sales", "finops", "cds"), ("finops", "cds"), "scratch"),
        ("dataverse", DataverseConnection, ("sales",), ("sales",), "preview"),
        ("finops", FinOpsConnection, ("finops", "cds"), ("finops", "cds"), "preview"),
    ],
)
def test_each_type_has_one_entry(
    name: str, config: type[Any], systems: tuple[str, ...], writes: tuple[str, ...], dry_run: str
) -> None:
    entry = connection_type(name)
    assert (entry.name, entry.config, entry.systems, entry.writes) == (
        name,
        config,
        systems,
        writes,
    )
    assert entry.dry_run is (DryRun.SCRATCH_COPY if dry_run == "scratch" else DryRun.PREVIEW)
    assert set(entry.writes) <= set(entry.systems)


def test_the_registry_lists_every_type_once() -> None:
    assert [entry.name for entry in CONNECTION_TYPES] == ["sandbox", "dataverse", "finops"]


@pytest.mark.parametrize("entry", CONNECTION_TYPES, ids=lambda e: e.name)
def test_p2c_yaml_connections_are_validated_by_the_registered_model(entry: Any) -> None:
    data = {"path": "x.db"} if entry.name == "sandbox" else {"url": "https://x.example", **HTTP}
    connections = ConnectionSet.model_validate(
        {
            "sales": {"type": "sandbox", "path": "s.db"},
            "finops": {"type": entry.name, **data},
            "organizations": ORGANIZATIONS,
        }
    )
    assert type(connections.finops) is entry.config
    assert connections.finops.kind is entry
    # and written back as it was read
    dumped = connections.model_dump(mode="json", exclude_none=True)["finops"]
    assert dumped["type"] == entry.name and set(data) <= set(dumped)


def test_a_connection_without_a_type_is_the_sandbox() -> None:
    connections = ConnectionSet.model_validate(
        {"sales": {"path": "s.db"}, "finops": {"path": "f.db"}, "organizations": ORGANIZATIONS}
    )
    assert connections.sales.kind is connection_type("sandbox")


def test_an_unknown_type_is_refused_with_a_clear_message(root: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        connection_type("carrier-pigeon")
    assert "no connection type 'carrier-pigeon'" in caught.value.message
    assert caught.value.fix == "type is one of: sandbox, dataverse, finops"
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        ConnectionSettings(type="carrier-pigeon").kind  # noqa: B018
    text = (root / "p2c.yaml").read_text(encoding="utf-8")
    (root / "p2c.yaml").write_text(
        text.replace("type: sandbox", "type: carrier-pigeon", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    assert "'carrier-pigeon'" in str(caught.value)
    assert "'sandbox', 'dataverse', 'finops'" in str(caught.value)


@pytest.mark.parametrize(
    ("connection", "system", "source", "destination"),
    [
        (SandboxConnection(path="sandbox/sales.db"), "sales", SandboxSource, None),
        (SandboxConnection(path="sandbox/finops.db"), "finops", SandboxSource, SandboxDestination),
        (SandboxConnection(path="sandbox/cds.db"), "cds", SandboxSource, SandboxDestination),
        (DATAVERSE, "sales", DataverseSource, DataverseDestination),
        (FINOPS, "finops", FinOpsSource, FinOpsDestination),
        (FINOPS, "cds", FinOpsSource, FinOpsDestination),
    ],
)
def test_opening_gives_the_types_connectors(
    root: Path, connection: Any, system: Any, source: type[Any], destination: type[Any] | None
) -> None:
    """Opening makes the connector and its session; nothing is sent until it is used."""
    with open_source(connection, system, root, "prod") as opened:
        assert type(opened) is source
    if destination is None:
        with pytest.raises(ConfigError, match="type sandbox, which writes finops and cds only"):
            open_destination(connection, system, root)
        return
    with open_destination(connection, system, root, "prod") as written:
        assert type(written) is destination


def test_finops_reads_across_companies_and_the_cds_hub_does_not(root: Path) -> None:
    with open_source(FINOPS, "finops", root) as finops, open_source(FINOPS, "cds", root) as cds:
        assert isinstance(finops, FinOpsSource) and isinstance(cds, FinOpsSource)
        assert (finops.cross_company, cds.cross_company) == (True, False)


@pytest.mark.parametrize(
    ("connection", "system", "message", "fix"),
    [
        (DATAVERSE, "finops", "type dataverse, which serves sales only", "sandbox or finops"),
        (FINOPS, "sales", "type finops, which serves finops and cds only", "sandbox or dataverse"),
    ],
)
def test_a_system_the_type_does_not_serve_is_refused(
    root: Path, connection: Any, system: Any, message: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        open_source(connection, system, root)
    assert message in caught.value.message
    assert fix in (caught.value.fix or "")
    check = check_connection(connection, system, root, "prod")
    assert not check.ok and message in check.message


def test_labels_name_the_set_the_system_and_where_it_leads() -> None:
    sandbox = SandboxConnection(path="sandbox/sales.db")
    assert connection_label(sandbox, "sales", "local") == "local/sales (sandbox/sales.db)"
    assert connection_label(FINOPS, "cds") == "cds (https://contoso.operations.dynamics.com)"


def test_a_sandbox_check_names_a_missing_file(root: Path) -> None:
    check = check_connection(SandboxConnection(path="sandbox/nope.db"), "finops", root, "local")
    assert not check.ok
    assert "nope.db does not exist" in check.message
    assert "p2c init" in (check.fix or "")


def test_only_the_sandbox_is_a_local_file_and_copied_for_a_dry_run(
    root: Path, tmp_path: Path
) -> None:
    sandbox = SandboxConnection(path="sandbox/finops.db")
    assert sandbox.kind.sandbox_path(sandbox, root) == (root / "sandbox/finops.db").resolve()
    assert DATAVERSE.kind.sandbox_path(DATAVERSE, root) is None
    copied = sandbox.kind.scratch_copy(sandbox, root, tmp_path / "scratch")
    assert Path(copied.path).is_file() and Path(copied.path).parent == tmp_path / "scratch"
    with pytest.raises(ConfigError, match="cannot be copied"):
        FINOPS.kind.scratch_copy(FINOPS, root, tmp_path / "nope")
