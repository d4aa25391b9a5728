"""What a user changes between runs takes effect in the next run: the legal entity of the
organization mapping, the project's mappings and filter in p2c.yaml, and Sales data (a
contact that gains a quote becomes a customer)."""

from __future__ import annotations

import pytest
from engine_scenarios import CHILD, CUSTOMERS, INVOICED, LONER, ORDERED, PERSON, QUOTED, Scenario

from p2c import ConfigError, ExitCode
from p2c.engine import TaskResult
from p2c.sandbox import FinOpsSandbox


def final_leg(tasks: list[TaskResult], project: str) -> TaskResult:
    """The result of the leg of ``project`` that writes F&O."""
    (task,) = [t for t in tasks if t.project == project and t.leg != "Source > CDS"]
    return task


def test_legal_entity_of_the_organization_mapping_decides_data_area(scenario: Scenario) -> None:
    scenario.edit(lambda text: text.replace("legal_entity: usmf", "legal_entity: demf"))
    assert scenario.ws.connection_set().organizations[0].legal_entity == "demf"

    result = scenario.run()

    assert result.exit_code == ExitCode.OK, result.tasks
    customers = scenario.customers()
    persons = scenario.contact_persons()
    expected_customers = {scenario.account_number(), *map(scenario.contact_number, CUSTOMERS)}
    assert set(customers) == expected_customers
    assert set(persons) == {scenario.contact_number(PERSON)}
    for record in [*customers.values(), *persons.values()]:
        assert record["dataAreaId"] == "demf"
    if scenario.via_cds:  # the hub keeps its organization
        for entity in ("Account", "Contact"):
            assert {r["Organization_OrganizationId"] for r in scenario.cds(entity)} == {"ORG001"}
    state = scenario.state()
    try:
        final = [
            r
            for r in state.lineage()
            if r.destination_entity in ("CustomersV2", "CDSContactPersons")
        ]
    finally:
        state.close()
    assert len(final) == len(expected_customers) + 1
    assert all(r.destination_key.startswith("demf/") for r in final)


def test_a_contact_that_gains_a_quote_becomes_a_customer(scenario: Scenario) -> None:
    scenario.run()
    lone = scenario.contact_number(LONER)
    assert lone not in scenario.customers()

    scenario.load(
        {"quotes": [{"name": "Q", "customerid_contact@odata.bind": f"/contacts({LONER})"}]}
    )
    assert scenario.sales("contacts", "contactid")[LONER]["msdynce_isactivecustomer"] is True
    result = scenario.run()

    assert result.exit_code == ExitCode.OK
    task = final_leg(result.tasks, scenario.customers_project)
    # Incremental: only the contact the quote changed is read, and it is created.
    assert (task.counts.read, task.counts.created) == (1, 1)
    customer = scenario.customers()[lone]
    assert customer["PartyType"] == "Person"
    assert customer["CustomerAccount"] == customer["PartyNumber"] == lone
    assert customer["PersonLastName"] == "Wolf"
    assert customer["dataAreaId"] == "usmf"


def test_a_quote_re_pointed_to_a_contact_makes_it_a_customer(scenario: Scenario) -> None:
    scenario.run()
    (quote_id,) = scenario.sales("quotes", "quoteid")
    sales = scenario.ws.sales()
    try:
        sales.update("quotes", quote_id, {"customerid_contact@odata.bind": f"/contacts({CHILD})"})
    finally:
        sales.close()
    assert scenario.sales("contacts", "contactid")[CHILD]["msdynce_isactivecustomer"] is True

    scenario.run()

    customer = scenario.customers()[scenario.contact_number(CHILD)]
    assert customer["PartyType"] == "Person"
    assert customer["PersonFirstName"] == "Carl"


def test_site_and_warehouse_defaults_added_in_p2c_yaml(scenario: Scenario) -> None:
    scenario.run()
    scenario.change_project(
        scenario.customers_project,
        """
ContactToCustomer:
  map:
    SiteId: {default: "1"}
    WarehouseId: {default: "13"}
""",
    )

    result = scenario.run()

    assert result.exit_code == ExitCode.OK, result.tasks
    task = final_leg(result.tasks, scenario.customers_project)
    assert task.counts.updated == len(CUSTOMERS)
    customers = scenario.customers()
    for contact_id in CUSTOMERS:
        record = customers[scenario.contact_number(contact_id)]
        assert (record["SiteId"], record["WarehouseId"]) == ("1", "13")
    # The changed mapping makes that task read everything again; the others read nothing.
    assert task.message and "mapping or filter changed" in task.message
    accounts = final_leg(result.tasks, scenario.accounts_project)
    assert accounts.counts.read == 0


def test_a_mapping_removed_in_p2c_yaml_is_not_written(scenario: Scenario) -> None:
    scenario.change_project(
        scenario.customers_project,
        """
ContactToCustomer:
  remove: [PersonMiddleName]
""",
    )

    result = scenario.run()

    assert result.exit_code == ExitCode.OK, result.tasks
    customers = scenario.customers()
    for contact_id in (QUOTED, ORDERED):  # both have a middle name in Sales
        record = customers[scenario.contact_number(contact_id)]
        assert record["PersonMiddleName"] is None
        assert record["PersonFirstName"]  # the rest of the map still applies
    if scenario.via_cds:  # the change is on the leg that writes F&O; the hub still has it
        hub = {r["AccountNumber"]: r for r in scenario.cds("Account")}
        assert hub[scenario.contact_number(QUOTED)]["MiddleName"] == "Marie"


def test_a_filter_changed_in_p2c_yaml_selects_the_contacts(scenario: Scenario) -> None:
    scenario.change_project(
        scenario.customers_project,
        """
ContactToCustomer:
  filter: msdynce_isactivecustomer eq true and address1_country ne 'Norway'
""",
    )

    result = scenario.run()

    assert result.exit_code == ExitCode.OK, result.tasks
    customers = scenario.customers()
    assert scenario.contact_number(INVOICED) not in customers  # lives in Norway
    for contact_id in (QUOTED, ORDERED):  # ORDERED's blank country is not 'Norway'
        assert scenario.contact_number(contact_id) in customers
    first_leg = next(t for t in result.tasks if t.project == scenario.customers_project)
    assert first_leg.counts.read == 2


def test_a_business_unit_without_organization_mapping_is_a_configuration_error(
    scenario: Scenario,
) -> None:
    scenario.edit(
        lambda text: text.replace(
            f"- name: {scenario.accounts_project}\n",
            f"- name: {scenario.accounts_project}\n  business_unit: Nowhere Sales\n",
        )
    )

    # p2c.yaml is wrong: refused when it is read, naming the line (exit 2, a configuration
    # error the user fixes, not an internal error), before any run writes anything.
    with pytest.raises(ConfigError) as caught:
        scenario.run()

    assert "'Nowhere Sales'" in str(caught.value)
    assert "key projects.0.business_unit" in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE
    finops = FinOpsSandbox(scenario.root / "sandbox" / "finops.db")
    try:
        assert finops.count("CustomersV2") == 0
    finally:
        finops.close()
