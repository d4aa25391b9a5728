"""The fix of a failed record (``record_fix``): each kind of rejection F&O's and the CDS hub's
rules give (taken from the sandbox's rules here, not typed in), read with the project's
mapping of the field, names where the value comes from and what to change."""

from __future__ import annotations

from typing import Any

from p2c.config import record_fix
from p2c.sandbox import CDSHub, FinOpsSandbox
from p2c.templates import Template, get_template, parse_transform

CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CDS_CONTACTS = "Contacts (Sales to Fin and Ops)"
TASK = "ContactToCustomer"
PERSON = {
    "dataAreaId": "usmf",
    "CustomerAccount": "CON-01000-BVRCPS",
    "PartyNumber": "CON-01000-BVRCPS",
    "PartyType": "Person",
    "PersonFirstName": "Ann",
    "PersonLastName": "Lee",
    "CustomerGroupId": "10",
}


def _rejection(system: FinOpsSandbox | CDSHub, entity_set: str, record: dict[str, Any]) -> Any:
    """The outcome of a record the system refuses (its field and message)."""
    (outcome,) = system.upsert(entity_set, [record])
    assert outcome.status == "failed", outcome
    return outcome


def _customer(finops: FinOpsSandbox, **change: Any) -> Any:
    return _rejection(finops, "CustomersV2", {**PERSON, **change})


def _template(name: str, leg: int = 0, task: int = 0, **fields: Any) -> Template:
    """A built-in template with a project's changes: ``field=transform`` (None removes)."""
    template = get_template(name).model_copy(deep=True)
    mapping = template.tasks[task].legs[leg].map
    for field, transform in fields.items():
        if transform is None:
            mapping.pop(field)
        else:
            mapping[field] = parse_transform(transform)
    return template


def _fix(template: Template, task: str, outcome: Any, leg: str | None = None) -> str:
    return record_fix(template, task, leg, outcome.field, outcome.message)


# too long --------------------------------------------------------------------------------------


def test_a_copied_value_too_long_is_shortened_at_the_source(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, PersonFirstName="Maximiliana-Evangelina-Theresa")
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix == (
        "PersonFirstName is copied from the contact's firstname in Sales: shorten it to 25 "
        "characters there (or map it through a function, fn truncate with length 25, in the "
        "mapping editor), then Retry selected."
    )


def test_a_default_too_long_is_changed_in_the_mapping_editor(finops: FinOpsSandbox) -> None:
    long = "A" * 30
    outcome = _customer(finops, PersonFirstName=long)
    template = _template(CUSTOMERS, PersonFirstName={"default": long})
    fix = _fix(template, TASK, outcome)
    assert fix.startswith(f"The project's default for PersonFirstName is '{long}', 30 characters")
    assert "F&O takes 25: shorten it in the mapping editor, then Retry selected." in fix


def test_a_function_too_long_is_truncated(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, PersonFirstName="B" * 26)
    template = _template(CUSTOMERS, PersonFirstName={"fn": "upper", "from": "firstname"})
    fix = _fix(template, TASK, outcome)
    assert "computed by fn upper from the contact's firstname in Sales" in fix
    assert "truncate it (fn truncate, length 25) in the mapping editor" in fix


# reference data F&O lacks ------------------------------------------------------------------


def test_a_default_that_f_and_o_lacks(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, CustomerGroupId="99")
    template = _template(CUSTOMERS, CustomerGroupId={"default": "99"})
    assert _fix(template, TASK, outcome) == (
        "The project's default for CustomerGroupId is '99', which F&O's Customer groups lacks "
        "for company usmf: change the default in the mapping editor to one that exists, or "
        "create '99' in F&O's Customer groups (company usmf); then Retry selected."
    )


def test_a_default_changed_since_the_record_was_refused(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, CustomerGroupId="99")
    assert _fix(get_template(CUSTOMERS), TASK, outcome) == (
        "The project's default for CustomerGroupId is '10' now (the record was refused with "
        "'99'): Retry selected to write it with the mapping as it is now."
    )


def test_a_value_the_value_map_does_not_name_passes_through(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, AddressCountryRegionISOCode="Atlantis")
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix.startswith(
        "AddressCountryRegionISOCode is mapped from the contact's address1_country in Sales, "
        "and its value map has no entry for 'Atlantis', so the value passed through unchanged"
    )
    assert "add 'Atlantis' → a value F&O has (or an else value) to the value map of " in fix
    assert fix.endswith("or correct the contact's address1_country in Sales; then Retry selected.")


def test_a_value_map_entry_that_f_and_o_lacks(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, AddressCountryRegionISOCode="SWX")
    template = _template(
        CUSTOMERS,
        AddressCountryRegionISOCode={"from": "address1_country", "value_map": {"Sweden": "SWX"}},
    )
    fix = _fix(template, TASK, outcome)
    assert "its value map turns 'Sweden' into 'SWX', which F&O's Countries/regions lacks" in fix
    assert "change that entry of the value map of AddressCountryRegionISOCode" in fix
    assert "or create 'SWX' in F&O's Countries/regions; then Retry selected." in fix


def test_a_value_maps_else_that_f_and_o_lacks(finops: FinOpsSandbox) -> None:
    template = _template(
        CONTACTS,
        DecisionMakingRoleCode={
            "from": "accountrolecode",
            "value_map": {"1": "Decision"},
            "else": "Boss",
        },
    )
    finops.upsert("CustomersV2", [{**PERSON, "CustomerAccount": "A", "PartyNumber": "A"}])
    outcome = _rejection(
        finops,
        "CDSContactPersons",
        {
            "dataAreaId": "usmf",
            "ContactPersonPartyNumber": "CON-01001-AAAAAA",
            "AssociatedPartyNumber": "A",
            "LastName": "Lee",
            "DecisionMakingRoleCode": "Boss",
        },
    )
    fix = _fix(template, "Contacts", outcome)
    assert "turns the values it does not name into its else value 'Boss'" in fix
    assert "Decision making roles" in fix and "change the else value" in fix


def test_a_copied_value_that_f_and_o_lacks(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, LanguageId="tlh")
    template = _template(CUSTOMERS, LanguageId="address1_line3")
    fix = _fix(template, TASK, outcome)
    assert fix.startswith(
        "LanguageId is copied from the contact's address1_line3 in Sales; for this record it is "
        "'tlh', which F&O's Languages lacks: correct it there, map it through a value map"
    )


# empty -------------------------------------------------------------------------------------


def test_a_copied_field_that_is_empty(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, PersonFirstName=None, PersonLastName=None)
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix.startswith(
        "PersonLastName is copied from the contact's lastname in Sales, which is empty for this "
        "record: fill it in there, or give PersonLastName a default for an empty value "
        "(from: lastname, default: …)"
    )


def test_a_required_field_the_project_does_not_map(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, CustomerGroupId=None)
    template = _template(CUSTOMERS, CustomerGroupId=None)
    assert _fix(template, TASK, outcome) == (
        "The project does not map CustomerGroupId, which F&O requires: add a mapping for it (a "
        "source field or a default) in the mapping editor, then Retry selected."
    )


def test_an_empty_key_field(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, CustomerAccount="")
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix.startswith("CustomerAccount is copied from the contact's msdynce_contactnumber")
    assert "which is empty for this record: fill it in there" in fix


# what another project creates, the organization mapping ------------------------------------


def test_a_company_not_synchronized_yet_names_the_project_to_run(finops: FinOpsSandbox) -> None:
    outcome = _rejection(
        finops,
        "CDSContactPersons",
        {
            "dataAreaId": "usmf",
            "ContactPersonPartyNumber": "CON-01001-AAAAAA",
            "AssociatedPartyNumber": "ACC-01001-PV4E50",
            "LastName": "Lee",
        },
    )
    fix = _fix(get_template(CONTACTS), "Contacts", outcome)
    assert fix.startswith(
        "The company 'ACC-01001-PV4E50' this record belongs to is not in F&O yet "
        "(AssociatedPartyNumber is copied from the contact's parentcustomerid's accountnumber "
        "in Sales): run the project Accounts (Sales to Fin and Ops) - Direct first"
    )


def test_a_legal_entity_f_and_o_lacks_points_at_the_organization_mapping(
    finops: FinOpsSandbox,
) -> None:
    outcome = _customer(finops, dataAreaId="xxxx")
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix.startswith(
        "The record's legal entity 'xxxx' comes from the organization mapping of the project's "
        "connection set in p2c.yaml (legal_entity), and F&O has no such one"
    )


def test_a_cds_organization_default_the_hub_lacks(cds: CDSHub) -> None:
    outcome = _rejection(
        cds,
        "Contact",
        {"Organization_OrganizationId": "ORG002", "ContactNumber": "C-1", "LastName": "Lee"},
    )
    template = _template(CDS_CONTACTS, Organization_OrganizationId={"default": "ORG002"})
    fix = _fix(template, "Contacts", outcome, leg="Source > CDS")
    assert fix.startswith(
        "The project's default for Organization_OrganizationId is 'ORG002', which CDS lacks: "
        "change it in the mapping editor to one of the organizations the reason names"
    )


def test_a_cds_account_not_synchronized_yet(cds: CDSHub) -> None:
    outcome = _rejection(
        cds,
        "Contact",
        {
            "Organization_OrganizationId": "ORG001",
            "ContactNumber": "C-1",
            "LastName": "Lee",
            "PrimaryAccount_AccountNumber": "ACC-9",
            "PrimaryAccount_Organization_OrganizationId": "ORG001",
        },
    )
    fix = _fix(get_template(CDS_CONTACTS), "Contacts", outcome, leg="Source > CDS")
    assert fix.startswith("The company 'ACC-9' this record belongs to is not in CDS yet")
    assert "run the project Accounts (Sales to Fin and Ops) first" in fix


def test_a_cds_required_field_traced_through_both_legs(finops: FinOpsSandbox) -> None:
    finops.upsert("CustomersV2", [{**PERSON, "CustomerAccount": "A", "PartyNumber": "A"}])
    outcome = _rejection(
        finops,
        "CDSContactPersons",
        {
            "dataAreaId": "usmf",
            "ContactPersonPartyNumber": "C-1",
            "AssociatedPartyNumber": "A",
            "FirstName": "F" * 40,
            "LastName": "Lee",
        },
    )
    fix = _fix(get_template(CDS_CONTACTS), "Contacts", outcome, leg="CDS > Destination")
    assert fix.startswith(
        "FirstName is copied from the Contact's FirstName in CDS (which the leg Source > CDS "
        "copies from the contact's firstname in Sales): shorten it to "
    )


# site and warehouse, option values, unknown fields -----------------------------------------


def test_a_warehouse_of_another_site(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, SiteId="2", WarehouseId="13")
    template = _template(CUSTOMERS, SiteId={"default": "2"}, WarehouseId={"default": "13"})
    fix = _fix(template, TASK, outcome)
    assert fix.startswith("WarehouseId is the project's default, '13'. Warehouse 13 belongs to")
    assert "not 2: make SiteId and WarehouseId a pair F&O has" in fix


def test_a_value_map_giving_a_value_the_enum_lacks(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, PersonGender="Mail")
    template = _template(
        CUSTOMERS, PersonGender={"from": "gendercode", "value_map": {"1": "Mail", "2": "Female"}}
    )
    fix = _fix(template, TASK, outcome)
    assert "its value map turns '1' into 'Mail', which F&O does not take (it takes one of " in fix
    assert "Unknown, Male, Female, NonSpecific" in fix


def test_a_copied_value_the_enum_lacks(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, PersonGender="M")
    template = _template(CUSTOMERS, PersonGender="gendercode")
    fix = _fix(template, TASK, outcome)
    assert fix.startswith("PersonGender is copied from the contact's gendercode in Sales, which")
    assert "map it through a value map in the mapping editor" in fix


def test_a_field_the_destination_does_not_have(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, Colour="red")
    fix = _fix(get_template(CUSTOMERS), TASK, outcome)
    assert fix == (
        "The mapping writes Colour, a field the destination does not have: remove or rename it "
        "in the mapping editor, then Retry selected."
    )


# passing failures, other wordings, the command line's words --------------------------------


def test_a_passing_failure_is_retried() -> None:
    fix = record_fix(get_template(CUSTOMERS), TASK, None, None, "timed out", retryable=True)
    assert fix.startswith("A passing failure (a timeout, throttling or an outage)")


def test_a_wording_it_does_not_know_still_names_where_the_value_comes_from() -> None:
    fix = record_fix(get_template(CUSTOMERS), TASK, None, "SalesMemo", "Something odd.")
    assert fix == (
        "SalesMemo is copied from the contact's description in Sales: correct the value there "
        "(or change the mapping in the mapping editor); then Retry selected."
    )
    unknown_task = record_fix(get_template(CUSTOMERS), "Nope", None, "SalesMemo", "Odd.")
    assert unknown_task.startswith("Correct the record at the source")


def test_the_command_lines_words(finops: FinOpsSandbox) -> None:
    outcome = _customer(finops, CustomerGroupId="99")
    template = _template(CUSTOMERS, CustomerGroupId={"default": "99"})
    fix = record_fix(
        template,
        TASK,
        None,
        outcome.field,
        outcome.message,
        retry="`p2c retry --record K`",
        editor="with `p2c mapping set`",
    )
    assert "change the default with `p2c mapping set`" in fix
    assert fix.endswith("then `p2c retry --record K`.")
