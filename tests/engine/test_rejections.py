"""Records F&O rejects are reported with field and reason while the rest land.

Statuses follow the Data Integrator: Warning when some records of a task failed, Error when
all did; the run exits 1 either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine_scenarios import ACCOUNT, CUSTOMERS, PERSON, Scenario

from p2c import ExitCode
from p2c.engine import RunResult, TaskResult

ATLANTIS = "e0000000-0000-4000-8000-000000000001"  # contact of the account, unknown country
LONG_NAME = "e0000000-0000-4000-8000-000000000002"  # customer with a 30-character first name
FIRST_NAME = "Maximiliana-Evangelina-Theresa"  # 30 characters; F&O allows 25

BAD: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        {
            "contactid": ATLANTIS,
            "firstname": "Atla",
            "lastname": "Ntis",
            "address1_city": "Poseidonia",
            "address1_country": "Atlantis",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        },
        {"contactid": LONG_NAME, "firstname": FIRST_NAME, "lastname": "Long"},
    ],
    "invoices": [{"name": "Big", "customerid_contact@odata.bind": f"/contacts({LONG_NAME})"}],
}


def final_leg(result: RunResult, project: str) -> TaskResult:
    """The result of the leg of ``project`` that writes F&O."""
    (task,) = [t for t in result.tasks if t.project == project and t.leg != "Source > CDS"]
    return task


def test_rejected_records_are_reported_and_the_others_land(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario(BAD)
    assert len(FIRST_NAME) == 30

    result = scenario.run()

    assert result.exit_code == ExitCode.FAILED_RECORDS and ExitCode.FAILED_RECORDS.value == 1
    assert result.status == "Warning"
    contacts = final_leg(result, scenario.contacts_project)
    customers = final_leg(result, scenario.customers_project)
    assert contacts.status == customers.status == "Warning"
    assert (contacts.counts.created, contacts.counts.failed) == (1, 1)
    assert (customers.counts.created, customers.counts.failed) == (len(CUSTOMERS), 1)
    assert final_leg(result, scenario.accounts_project).status == "Completed"
    if scenario.via_cds:  # the hub takes both; F&O refuses them on the second leg
        for task in result.tasks:
            if task.leg == "Source > CDS":
                assert task.status == "Completed" and task.counts.failed == 0, task

    # The rest is in F&O.
    atlantis, long_name = map(scenario.contact_number, (ATLANTIS, LONG_NAME))
    persons, customer_records = scenario.contact_persons(), scenario.customers()
    assert set(persons) == {scenario.contact_number(PERSON)}
    assert set(customer_records) == {
        scenario.account_number(),
        *map(scenario.contact_number, CUSTOMERS),
    }
    assert atlantis not in persons
    assert long_name not in customer_records

    state = scenario.state()
    try:
        errors = {row.field: row for row in state.errors(result.run_id)}
        task_runs = {(r.project, r.leg): r for r in state.task_runs(result.run_id)}
        last = {p: state.last_status(p) for p in (contacts.project, customers.project)}
        lineage_sources = {r.source_key for r in state.lineage()}
        run = state.runs()[0]
    finally:
        state.close()

    assert set(errors) == {"PrimaryAddressCountryRegionISOCode", "PersonFirstName"}
    country = errors["PrimaryAddressCountryRegionISOCode"]
    assert "'Atlantis'" in country.message
    assert country.project == scenario.contacts_project
    assert country.task == "Contacts"
    name = errors["PersonFirstName"]
    assert "25" in name.message and "30" in name.message
    assert name.project == scenario.customers_project
    assert name.task == "ContactToCustomer"
    account = scenario.account_number()
    assert country.destination_key == f"usmf/{atlantis}/{account}"
    assert name.destination_key == f"usmf/{long_name}"
    if scenario.via_cds:  # failed on the CDS > Destination leg: keyed by the CDS record
        assert country.source_key == f"ORG001/{atlantis}"
        assert name.source_key == f"ORG001/{long_name}"
    else:
        assert country.source_key == ATLANTIS
        assert name.source_key == LONG_NAME
    # History keeps the same outcome; failed records have no lineage to F&O.
    assert run.id == result.run_id and run.status == "Warning"
    assert task_runs[(contacts.project, contacts.leg)].status == "Warning"
    assert task_runs[(contacts.project, contacts.leg)].failed == 1
    assert task_runs[(customers.project, customers.leg)].failed == 1
    assert last == {contacts.project: "Warning", customers.project: "Warning"}
    if not scenario.via_cds:
        assert ATLANTIS not in lineage_sources and LONG_NAME not in lineage_sources

    # They wait in the error queue: the next run reads nothing new, and a retry reports
    # them again with that run's id.
    again = scenario.run()
    assert again.exit_code == ExitCode.OK
    retried = scenario.retry()
    assert retried is not None  # the two records wait in the queue
    assert retried.exit_code == ExitCode.FAILED_RECORDS
    state = scenario.state()
    try:
        assert {r.field for r in state.errors(retried.run_id)} == set(errors)
        assert len(state.errors(result.run_id)) == 2
        queue = state.queue()
        assert {q.field for q in queue} == set(errors)
        assert {(q.attempts, q.first_run_id, q.last_run_id) for q in queue} == {
            (2, result.run_id, retried.run_id)
        }
        assert not any(q.retryable for q in queue)
    finally:
        state.close()


def test_a_project_whose_every_record_fails_is_in_error(scenario: Scenario) -> None:
    scenario.change_project(
        scenario.customers_project,
        """
ContactToCustomer:
  map:
    CustomerGroupId: {default: "99"}
""",
    )

    result = scenario.run()

    assert result.exit_code == ExitCode.FAILED_RECORDS
    assert result.status == "Error"
    customers = final_leg(result, scenario.customers_project)
    assert customers.status == "Error"
    assert customers.counts.failed == customers.counts.read == len(CUSTOMERS)
    assert customers.counts.created == 0
    # The other projects are not held back by it.
    assert final_leg(result, scenario.accounts_project).status == "Completed"
    assert final_leg(result, scenario.contacts_project).status == "Completed"
    assert set(scenario.contact_persons()) == {scenario.contact_number(PERSON)}
    assert set(scenario.customers()) == {scenario.account_number()}

    state = scenario.state()
    try:
        errors = state.errors(result.run_id)
        assert len(errors) == len(CUSTOMERS)
        for row in errors:
            assert row.field == "CustomerGroupId"
            assert "'99'" in row.message
        assert state.last_status(scenario.customers_project) == "Error"
        assert state.last_status(scenario.contacts_project) == "Completed"
        assert state.runs()[0].status == "Error"
    finally:
        state.close()


BAD_ACCOUNT = "e0000000-0000-4000-8000-0000000000a1"
ITS_CONTACT = "e0000000-0000-4000-8000-000000000003"


def test_contact_person_of_a_refused_account_is_refused_with_the_party(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario(
        {
            "accounts": [
                {"accountid": BAD_ACCOUNT, "name": "Lost City", "address1_country": "Atlantis"}
            ],
            "contacts": [
                {
                    "contactid": ITS_CONTACT,
                    "firstname": "Ida",
                    "lastname": "Lost",
                    "parentcustomerid_account@odata.bind": f"/accounts({BAD_ACCOUNT})",
                }
            ],
        }
    )

    result = scenario.run()

    assert result.exit_code == ExitCode.FAILED_RECORDS
    accounts = final_leg(result, scenario.accounts_project)
    contacts = final_leg(result, scenario.contacts_project)
    # Some accounts landed, so the contact projects run (a Warning is no failure of the
    # prerequisite); the contact of the refused account cannot find its party in F&O.
    assert accounts.status == contacts.status == "Warning"
    assert (accounts.counts.created, accounts.counts.failed) == (1, 1)
    assert (contacts.counts.created, contacts.counts.failed) == (1, 1)
    assert final_leg(result, scenario.customers_project).status == "Completed"
    bad_number = scenario.account_number(BAD_ACCOUNT)
    assert bad_number not in scenario.customers()
    assert set(scenario.contact_persons()) == {scenario.contact_number(PERSON)}

    state = scenario.state()
    try:
        errors = {(row.project, row.field): row for row in state.errors(result.run_id)}
    finally:
        state.close()
    assert set(errors) == {
        (scenario.accounts_project, "AddressCountryRegionISOCode"),
        (scenario.contacts_project, "AssociatedPartyNumber"),
    }
    party = errors[(scenario.contacts_project, "AssociatedPartyNumber")]
    assert f"'{bad_number}'" in party.message
    assert "does not exist" in party.message
    assert party.destination_key == f"usmf/{scenario.contact_number(ITS_CONTACT)}/{bad_number}"
    country = errors[(scenario.accounts_project, "AddressCountryRegionISOCode")]
    assert "'Atlantis'" in country.message
    assert country.source_key == (f"ORG001/{bad_number}" if scenario.via_cds else BAD_ACCOUNT)


def test_records_fixed_in_sales_land_in_the_next_run(
    make_scenario: Callable[..., Scenario],
) -> None:
    scenario = make_scenario(BAD)
    assert scenario.run().exit_code == ExitCode.FAILED_RECORDS
    sales = scenario.ws.sales()
    try:
        sales.update("contacts", ATLANTIS, {"address1_country": "Sweden"})
        sales.update("contacts", LONG_NAME, {"firstname": "Max"})
    finally:
        sales.close()

    result = scenario.run()

    assert result.exit_code == ExitCode.OK, result.tasks
    assert result.status == "Completed"
    contacts = final_leg(result, scenario.contacts_project)
    customers = final_leg(result, scenario.customers_project)
    # Incremental: only the two records changed in Sales are read, and they land.
    assert (contacts.counts.read, contacts.counts.created) == (1, 1)
    assert (customers.counts.read, customers.counts.created) == (1, 1)
    atlantis, long_name = map(scenario.contact_number, (ATLANTIS, LONG_NAME))
    assert scenario.contact_persons()[atlantis]["PrimaryAddressCountryRegionISOCode"] == "SWE"
    assert scenario.customers()[long_name]["PersonFirstName"] == "Max"
    state = scenario.state()
    try:
        assert state.errors(result.run_id) == []
        assert state.queue() == []  # written, so off the error queue
        assert len(state.errors(result.run_id - 1)) == 2  # the first run's errors are kept
        written = {
            r.destination_key
            for r in state.lineage()
            if r.run_id == result.run_id
            and r.destination_entity in ("CustomersV2", "CDSContactPersons")
        }
    finally:
        state.close()
    assert f"usmf/{long_name}" in written
    assert f"usmf/{atlantis}/{scenario.account_number()}" in written
