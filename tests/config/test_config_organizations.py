"""Organization mappings: a business unit or legal entity that does not exist, and a business
unit mapped to two legal entities, are refused before a run writes anything."""

from __future__ import annotations

import pytest
from config_helpers import (
    ACCOUNTS,
    Config,
    load_samples,
    names_line,
    nothing_written,
    one_line,
    p2c,
)

from p2c import ConfigError, ExitCode
from p2c.config import check_organizations
from p2c.engine import Engine, StateStore


def test_an_unknown_legal_entity_stops_the_run_before_it_writes(direct: Config) -> None:
    load_samples(direct.root)
    direct.replace("legal_entity: usmf", "legal_entity: usfm")
    direct.opened()  # the file itself is fine: the sandbox says the company does not exist
    done = p2c("run", "-w", direct.root)
    assert done.code == ExitCode.USAGE, done.stdout + done.stderr
    message = one_line(done.stderr)
    line = direct.line_of("legal_entity: usfm")
    assert f"p2c.yaml line {line}, key connection_sets.sandbox.organizations.0.legal_entity" in (
        message
    )
    assert "legal entity 'usfm' does not exist in finops" in message
    assert "did you mean 'usmf'?" in message
    assert "Traceback" not in done.stderr
    nothing_written(direct.root)


def test_an_unknown_business_unit_stops_the_run_before_it_writes(direct: Config) -> None:
    load_samples(direct.root)
    direct.replace("business_unit: Contoso Sales", "business_unit: contoso sales")
    done = p2c("run", "-w", direct.root)
    assert done.code == ExitCode.USAGE, done.stdout + done.stderr
    message = one_line(done.stderr)
    assert f"line {direct.line_of('business_unit: contoso')}, key " in message
    assert "business unit 'contoso sales' does not exist in sales" in message
    assert "did you mean 'Contoso Sales'?" in message
    nothing_written(direct.root)


def test_a_dry_run_and_connections_test_check_them_too(direct: Config) -> None:
    direct.replace("legal_entity: usmf", "legal_entity: xxxx")
    dry = p2c("run", "--dry-run", "-w", direct.root)
    assert dry.code == ExitCode.USAGE
    assert "legal entity 'xxxx' does not exist" in one_line(dry.stderr)
    tested = p2c("connections", "test", "-w", direct.root)
    assert tested.code == ExitCode.USAGE
    assert "legal entity 'xxxx' does not exist" in one_line(tested.stderr)


def test_connections_test_says_the_mappings_were_found(direct: Config) -> None:
    tested = p2c("connections", "test", "-w", direct.root)
    assert tested.code == 0, tested.stderr
    assert "every business unit and legal entity" in tested.stdout


def test_a_legal_entity_is_found_in_any_case(direct: Config) -> None:
    direct.replace("legal_entity: usmf", "legal_entity: USMF")
    ws = direct.opened()
    check_organizations(ws, ["sandbox"])  # F&O company ids are case-insensitive


def test_a_business_unit_mapped_to_two_legal_entities_is_refused(direct: Config) -> None:
    direct.replace(
        "      cds_organization: ORG001\n",
        "      cds_organization: ORG001\n"
        "    - business_unit: Contoso Sales\n"
        "      legal_entity: demf\n",
    )
    message = direct.refused()
    names_line(
        message,
        direct,
        "- business_unit: Contoso Sales",
        "connection_sets.sandbox.organizations.1.business_unit",
    )
    first = _first_line(direct, "- business_unit: Contoso Sales")
    assert f"mapped to legal entity 'usmf' (line {first}) and again to 'demf'" in message
    assert "keep one of the two" in message


def test_a_business_unit_mapped_twice_to_the_same_company_is_refused(direct: Config) -> None:
    direct.replace(
        "      cds_organization: ORG001\n",
        "      cds_organization: ORG001\n"
        "    - {business_unit: Contoso Sales, legal_entity: USMF}\n",
    )
    message = direct.refused()
    assert "mapped twice to legal entity 'USMF'" in message
    first = _first_line(direct, "- business_unit: Contoso Sales")
    assert f"remove one of the two (the first is on line {first})" in message


def test_two_business_units_may_share_a_company(direct: Config) -> None:
    direct.replace(
        "      cds_organization: ORG001\n",
        "      cds_organization: ORG001\n    - {business_unit: Contoso East, legal_entity: usmf}\n",
    )
    direct.opened()


def test_via_cds_one_hub_organization_cannot_lead_to_two_companies(via_cds: Config) -> None:
    via_cds.replace(
        "      cds_organization: ORG001\n",
        "      cds_organization: ORG001\n    - {business_unit: Contoso East, legal_entity: demf}\n",
    )
    message = via_cds.refused()
    assert "CDS organization 'ORG001' is mapped to legal entity 'usmf'" in message
    assert "organizations.1.cds_organization" in message


def test_an_unknown_cds_organization_stops_the_run(via_cds: Config) -> None:
    via_cds.replace("cds_organization: ORG001", "cds_organization: ORG002")
    done = p2c("run", "-w", via_cds.root)
    assert done.code == ExitCode.USAGE
    assert "CDS organization 'ORG002' does not exist in cds" in one_line(done.stderr)
    assert "did you mean 'ORG001'?" in one_line(done.stderr)
    nothing_written(via_cds.root)


def test_a_connection_set_without_organizations_is_refused(direct: Config) -> None:
    lines = direct.lines()
    at = lines.index("    organizations:")
    lines[at : at + 4] = ["    organizations: []"]
    direct.save(lines)
    message = direct.refused()
    assert "key connection_sets.sandbox.organizations: the connection set has no organization" in (
        message
    )


def test_a_project_naming_an_unmapped_business_unit_is_refused(direct: Config) -> None:
    direct.replace(f"- name: {ACCOUNTS}\n", f"- name: {ACCOUNTS}\n  business_unit: Contoso Sale\n")
    message = direct.refused()
    names_line(message, direct, "business_unit: Contoso Sale", "projects.0.business_unit")
    assert "did you mean 'Contoso Sales'?" in message


def test_over_https_an_unknown_legal_entity_stops_the_run_before_it_writes(
    direct: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dataverse and F&O (the emulator) are read once each, before the run writes."""
    from connector_world import emulator_connections, use_connection_set

    from p2c.emulator import serve

    monkeypatch.setenv("P2C_EMULATOR_SECRET", "emulator-secret")
    load_samples(direct.root)
    with serve(direct.root) as running:
        connections = emulator_connections(running)
        connections["organizations"] = [{"business_unit": "Contoso Sales", "legal_entity": "usfm"}]
        use_connection_set(direct.root, "emulator", connections)
        ws = direct.opened()
        state = StateStore(ws.state_url())
        try:
            with pytest.raises(ConfigError) as caught:
                Engine(ws, state).run(None)
        finally:
            state.close()
    message = str(caught.value)
    assert "key connection_sets.emulator.organizations.0.legal_entity" in message
    assert "legal entity 'usfm' does not exist in finops (https://127.0.0.1:" in message
    assert "did you mean 'usmf'?" in message
    nothing_written(direct.root)


def _first_line(config: Config, needle: str) -> int:
    return next(n for n, line in enumerate(config.lines(), 1) if needle in line)
