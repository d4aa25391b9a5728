"""The Accounts project is a prerequisite of both contact projects: it must be in the
workspace, and it must have run successfully before a contact project runs alone."""

from __future__ import annotations

import re

import pytest
from engine_scenarios import CUSTOMERS, Scenario, run_p2c

from p2c import ExitCode, P2CError, PrerequisiteError


def remove_project(text: str, project: str) -> str:
    """p2c.yaml without the ``- name: project`` item (up to the next item)."""
    match = re.search(rf"^- name: {re.escape(project)}\n(?:  .*\n)*", text, re.MULTILINE)
    assert match is not None
    return text[: match.start()] + text[match.end() :]


def nothing_written(scenario: Scenario) -> bool:
    state = scenario.state()
    try:
        no_runs = not state.runs()
    finally:
        state.close()
    return no_runs and not scenario.customers() and not scenario.contact_persons()


def test_workspace_without_the_accounts_project(scenario: Scenario) -> None:
    scenario.edit(lambda text: remove_project(text, scenario.accounts_project))
    assert scenario.accounts_project not in {p.name for p in scenario.ws.config.projects}

    with pytest.raises(PrerequisiteError) as caught:
        scenario.run()

    error = caught.value
    assert error.exit_code == ExitCode.PREREQUISITE and ExitCode.PREREQUISITE.value == 4
    # It names the template the missing project must come from.
    assert f"template {scenario.accounts_project!r}" in str(error)
    assert error.record in (scenario.contacts_project, scenario.customers_project)
    assert nothing_written(scenario)


def test_a_contact_project_alone_when_accounts_never_ran(scenario: Scenario) -> None:
    for project in (scenario.contacts_project, scenario.customers_project):
        with pytest.raises(PrerequisiteError) as caught:
            scenario.run([project])
        assert caught.value.exit_code == ExitCode.PREREQUISITE
        assert scenario.accounts_project in str(caught.value)
        assert caught.value.record == project
    assert nothing_written(scenario)


def test_a_contact_project_alone_after_accounts_ran(scenario: Scenario) -> None:
    accounts = scenario.run([scenario.accounts_project])
    assert accounts.exit_code == ExitCode.OK
    assert {t.project for t in accounts.tasks} == {scenario.accounts_project}
    assert set(scenario.customers()) == {scenario.account_number()}

    result = scenario.run([scenario.customers_project])

    assert result.exit_code == ExitCode.OK
    assert {t.project for t in result.tasks} == {scenario.customers_project}
    assert set(scenario.customers()) == {
        scenario.account_number(),
        *map(scenario.contact_number, CUSTOMERS),
    }


def test_contact_projects_wait_for_an_accounts_project_that_failed(scenario: Scenario) -> None:
    # Every account is refused (no customer group 99 in F&O): the Accounts project fails.
    (task,) = scenario.ws.project(scenario.accounts_project).effective_template().tasks
    scenario.change_project(
        scenario.accounts_project,
        f"""
{task.name}:
  map:
    CustomerGroupId: {{default: "99"}}
""",
    )

    result = scenario.run()

    assert result.exit_code != ExitCode.OK
    final = [t for t in result.tasks if t.leg != "Source > CDS"]
    assert [t.status for t in final if t.project == scenario.accounts_project] == ["Error"]
    for ran in result.tasks:
        if ran.project != scenario.accounts_project:
            assert ran.status == "Skipped", ran
            assert scenario.accounts_project in (ran.message or "")
    assert not scenario.contact_persons()
    assert not scenario.customers()
    with pytest.raises(PrerequisiteError):
        scenario.run([scenario.contacts_project])


def test_cli_run_of_a_contact_project_alone_exits_4(scenario: Scenario) -> None:
    done = run_p2c("run", scenario.contacts_project, "--workspace", str(scenario.root))

    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert f"needs project '{scenario.accounts_project}'" in message
    assert "p2c run" in message  # the fix
    assert nothing_written(scenario)


def test_cli_run_without_the_accounts_project_exits_4(scenario: Scenario) -> None:
    scenario.edit(lambda text: remove_project(text, scenario.accounts_project))

    done = run_p2c("run", "--workspace", str(scenario.root))

    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert f"template '{scenario.accounts_project}'" in message
    assert "error:" in message


def test_running_a_project_the_workspace_does_not_have(scenario: Scenario) -> None:
    with pytest.raises(P2CError) as caught:
        scenario.run(["Contacts (Sales to Fin and Ops) - Typo"])

    # A wrong name on the command line is a usage error (exit 2), not an internal one.
    assert caught.value.exit_code == ExitCode.USAGE
    assert "'Contacts (Sales to Fin and Ops) - Typo'" in str(caught.value)
    assert scenario.contacts_project in str(caught.value)  # the fix lists the projects
    assert nothing_written(scenario)
