"""Routing, template defaults, lineage and repeatable runs, end to end in both generations.

Sales contacts become F&O customers when they have a quote, order or invoice; contact persons
of their account's customer when they have none and their company is an account; nothing
otherwise. Accounts become customers of party type Organization.
"""

from __future__ import annotations

import time

from engine_scenarios import (
    ACCOUNT,
    CHILD,
    CUSTOMERS,
    INVOICED,
    LONER,
    NOWHERE,
    ORDERED,
    PERSON,
    QUOTED,
    Scenario,
)

from p2c import ExitCode
from p2c.engine import RunOptions


def test_first_run_completes_every_task(scenario: Scenario) -> None:
    result = scenario.run()

    assert result.exit_code == ExitCode.OK
    assert result.status == "Completed"
    legs = 2 if scenario.via_cds else 1
    assert len(result.tasks) == 3 * legs
    projects = [t.project for t in result.tasks][::legs]
    assert projects[0] == scenario.accounts_project  # the prerequisite runs first
    assert set(projects[1:]) == {scenario.contacts_project, scenario.customers_project}
    for task in result.tasks:
        assert task.status == "Completed", task
        assert task.counts.failed == 0
        assert task.counts.updated == 0
        assert task.counts.unchanged == 0
    # Every leg reads only its own records: the source filters keep the others out.
    for task in result.tasks:
        expected = {
            scenario.accounts_project: 1,
            scenario.contacts_project: 1,  # PERSON
            scenario.customers_project: len(CUSTOMERS),
        }[task.project]
        assert task.counts.read == task.counts.created == expected, task


def test_contacts_with_sales_activity_become_person_customers(scenario: Scenario) -> None:
    scenario.run()
    customers = scenario.customers()

    for contact_id in CUSTOMERS:
        number = scenario.contact_number(contact_id)
        customer = customers[number]
        assert customer["PartyType"] == "Person"
        assert customer["CustomerAccount"] == number
        assert customer["PartyNumber"] == number
        assert customer["dataAreaId"] == "usmf"
    sales = scenario.sales("contacts", "contactid")
    ann = customers[scenario.contact_number(QUOTED)]
    assert ann["PersonFirstName"] == sales[QUOTED]["firstname"] == "Ann"
    assert ann["PersonMiddleName"] == "Marie"
    assert ann["PersonLastName"] == "Lee"
    assert ann["AddressCity"] == "Seattle"
    assert ann["AddressCountryRegionISOCode"] == "USA"  # "United States" through the value map
    ines = customers[scenario.contact_number(INVOICED)]
    assert ines["AddressCountryRegionISOCode"] == "NOR"
    # A customer is not also a contact person.
    persons = scenario.contact_persons()
    assert not {scenario.contact_number(c) for c in CUSTOMERS} & set(persons)


def test_contact_of_an_account_without_activity_becomes_its_contact_person(
    scenario: Scenario,
) -> None:
    scenario.run()
    number = scenario.contact_number(PERSON)
    persons = scenario.contact_persons()

    assert set(persons) == {number}
    person = persons[number]
    assert person["ContactPersonPartyNumber"] == number
    assert person["AssociatedPartyNumber"] == scenario.account_number(ACCOUNT)
    assert person["IsContactPersonExternallyMaintained"] == "Yes"
    assert person["dataAreaId"] == "usmf"
    assert person["FirstName"] == "Per"
    assert person["LastName"] == "Persson"
    assert person["EmploymentProfession"] == "Buyer"
    # Option sets through value maps; the role is PrimaryAccountRole in the hub (seed 001).
    assert person["DecisionMakingRoleCode"] == "Decision"
    if scenario.via_cds:
        (hub,) = scenario.cds("Contact")
        assert hub["PrimaryAccountRole"] == "Decision"
    else:
        assert (person["Gender"], person["MaritalStatus"]) == ("Female", "Married")
        assert person["IsReceivingDirectMail"] == "No"  # donotemail is true
    # The associated party is the account's customer in F&O.
    assert scenario.customers()[person["AssociatedPartyNumber"]]["PartyType"] == "Organization"
    assert number not in scenario.customers()


def test_contacts_of_a_contact_or_of_no_company_go_nowhere(scenario: Scenario) -> None:
    scenario.run()
    numbers = {scenario.contact_number(c) for c in NOWHERE}
    sales = scenario.sales("contacts", "contactid")
    assert sales[CHILD]["msdynce_iscompanyanaccount"] is False
    assert sales[LONER]["msdynce_iscompanyanaccount"] is False

    assert not numbers & set(scenario.customers())
    assert not numbers & set(scenario.contact_persons())
    if scenario.via_cds:
        cds_numbers = {r["ContactNumber"] for r in scenario.cds("Contact")}
        cds_numbers |= {r["AccountNumber"] for r in scenario.cds("Account")}
        assert not numbers & cds_numbers


def test_accounts_become_organization_customers(scenario: Scenario) -> None:
    scenario.run()
    number = scenario.account_number(ACCOUNT)
    customer = scenario.customers()[number]

    assert customer["CustomerAccount"] == number
    assert customer["PartyNumber"] == number
    assert customer["PartyType"] == "Organization"
    assert customer["OrganizationName"] == "Fabrikam"
    assert customer["dataAreaId"] == "usmf"
    assert customer["AddressCountryRegionISOCode"] == "SWE"
    assert customer["PrimaryContactEmail"] == "info@fabrikam.example"


def test_template_defaults_reach_f_and_o(scenario: Scenario) -> None:
    scenario.run()
    customers = scenario.customers()

    for record in customers.values():
        assert record["CustomerGroupId"] == "10"
        assert record["LanguageId"] == "en-us"
        assert record["IsExternallyMaintained"] == "Yes"
    for contact_id in CUSTOMERS:
        person = customers[scenario.contact_number(contact_id)]
        # ContactToCustomer has no template value for site and warehouse.
        assert person["SiteId"] in (None, "")
        assert person["WarehouseId"] in (None, "")
    # Blank Country/Region: the value map's blank key gives USA, on both contact routes.
    assert customers[scenario.contact_number(ORDERED)]["AddressCountryRegionISOCode"] == "USA"
    person = scenario.contact_persons()[scenario.contact_number(PERSON)]
    assert person["PrimaryAddressCountryRegionISOCode"] == "USA"


def test_via_cds_records_carry_the_cds_organization(scenario: Scenario) -> None:
    scenario.run()
    if not scenario.via_cds:  # the direct generation has no hub
        assert not (scenario.root / "sandbox" / "cds.db").exists()
        return
    accounts = {r["AccountNumber"]: r for r in scenario.cds("Account")}
    contacts = {r["ContactNumber"]: r for r in scenario.cds("Contact")}

    account_number = scenario.account_number(ACCOUNT)
    assert set(accounts) == {account_number, *(scenario.contact_number(c) for c in CUSTOMERS)}
    assert set(contacts) == {scenario.contact_number(PERSON)}
    for record in [*accounts.values(), *contacts.values()]:
        assert record["Organization_OrganizationId"] == "ORG001"
    assert accounts[account_number]["PartyType"] == "Organization"
    for contact_id in CUSTOMERS:
        assert accounts[scenario.contact_number(contact_id)]["PartyType"] == "Person"
    contact = contacts[scenario.contact_number(PERSON)]
    assert contact["PrimaryAccount_AccountNumber"] == account_number
    assert contact["PrimaryAccount_Organization_OrganizationId"] == "ORG001"


def test_every_written_record_has_lineage_with_the_run_id(scenario: Scenario) -> None:
    result = scenario.run()
    state = scenario.state()
    try:
        rows = state.lineage()
    finally:
        state.close()

    assert rows
    assert {r.run_id for r in rows} == {result.run_id}
    # Follow each Sales record to the F&O key it ended at: one leg direct; via CDS, the
    # first leg's destination key is the second leg's source key.
    second_leg = {(r.project, r.source_key): r for r in rows if r.leg == "CDS > Destination"}
    ends: dict[tuple[str, str], str] = {}
    for row in rows:
        if row.source_entity not in ("contacts", "accounts"):
            continue
        if scenario.via_cds:
            assert row.leg == "Source > CDS"
            assert row.destination_entity in ("Account", "Contact")
            assert row.destination_key.startswith("ORG001/")
            final = second_leg[(row.project, row.destination_key)]
            assert final.source_entity == row.destination_entity
        else:
            assert row.leg == "Source > Destination"
            final = row
        assert final.destination_entity in ("CustomersV2", "CDSContactPersons")
        ends[(row.project, row.source_key)] = final.destination_key

    account = scenario.account_number()
    expected = {
        (scenario.accounts_project, ACCOUNT): f"usmf/{account}",
        (scenario.contacts_project, PERSON): f"usmf/{scenario.contact_number(PERSON)}/{account}",
        **{
            (scenario.customers_project, c): f"usmf/{scenario.contact_number(c)}" for c in CUSTOMERS
        },
    }
    assert ends == expected
    # Every F&O record written is covered, and nothing else.
    written = {f"{r['dataAreaId']}/{r['CustomerAccount']}" for r in scenario.finops("CustomersV2")}
    written |= {
        f"{r['dataAreaId']}/{r['ContactPersonPartyNumber']}/{r['AssociatedPartyNumber']}"
        for r in scenario.finops("CDSContactPersons")
    }
    assert written == set(expected.values())


def test_a_second_run_reads_and_writes_nothing_and_a_full_run_finds_all_unchanged(
    scenario: Scenario,
) -> None:
    first = scenario.run()
    before = (scenario.finops("CustomersV2"), scenario.finops("CDSContactPersons"))
    # The CDS hub stamps what the first run wrote; the cursor passes it once that second
    # is over.
    time.sleep(1.1 if scenario.via_cds else 0)
    second = scenario.run()
    full = scenario.run(options=RunOptions(full=True))

    assert (second.run_id, full.run_id) == (first.run_id + 1, first.run_id + 2)
    for result in (second, full):
        assert result.exit_code == ExitCode.OK
        assert result.status == "Completed"
    for task, again, previous in zip(second.tasks, full.tasks, first.tasks, strict=True):
        # Incremental: the cursor is past every record.
        assert task.counts.read == 0, task
        # Full: everything read again, and the destination holds every record as mapped.
        assert again.counts.created == again.counts.updated == again.counts.failed == 0, again
        assert again.counts.unchanged == again.counts.read == previous.counts.read, again
    assert (scenario.finops("CustomersV2"), scenario.finops("CDSContactPersons")) == before
    state = scenario.state()
    try:
        runs = state.runs()
        assert [r.id for r in runs] == [full.run_id, second.run_id, first.run_id]
        assert [r.mode for r in runs] == ["full", "incremental", "incremental"]
        assert all(r.status == "Completed" for r in runs)
        assert all(r.finished_at is not None for r in runs)
        # Lineage names the run that last wrote the record: the full run wrote everything
        # again (the destination said unchanged), the incremental one nothing.
        assert {r.run_id for r in state.lineage()} == {full.run_id}
    finally:
        state.close()
