"""Mappings checked leg by leg against the model of Dynamics when p2c.yaml is read: each
mistake is refused with its line, key and fix, constants are converted where F&O would,
and every built-in template passes."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from config_helpers import (
    CONTACTS,
    CUSTOMERS,
    Config,
    load_samples,
    names_line,
    nothing_written,
    one_line,
    p2c,
)

from p2c import ExitCode
from p2c.config._mappings import LegOrigin, check_leg
from p2c.engine import compile_map
from p2c.templates import Default, Fn, ValueMap, builtin_templates, parse_transform
from p2c.workspace import init_workspace

MAP = "projects.2.tasks.ContactToCustomer.map"


def test_every_built_in_template_passes_unchanged() -> None:
    for template in builtin_templates().values():
        for task in template.tasks:
            for position, leg in enumerate(task.legs):
                last = position == len(task.legs) - 1
                origin = LegOrigin(("projects", 0), task.name, None, leg.name, position == 0, last)
                assert check_leg(leg, origin) == ([], {}), (template.name, leg.name)


@pytest.mark.parametrize("via_cds", [False, True])
def test_new_workspaces_open(tmp_path: Path, via_cds: bool) -> None:
    init_workspace(tmp_path / "ws", via_cds=via_cds)
    Config(tmp_path / "ws").opened()


def test_a_field_the_destination_does_not_have(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  map:\n    SiteID: {default: '1'}")
    message = direct.refused()
    names_line(message, direct, "SiteID:", f"{MAP}.SiteID")
    assert "CustomersV2 has no field 'SiteID'" in message
    assert "did you mean 'SiteId'?" in message


def test_a_number_for_a_text_field_becomes_its_text(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  map:\n    SiteId: {default: 1}")
    ws = direct.opened()
    leg = ws.project(CUSTOMERS).effective_template().tasks[0].legs[0]
    assert leg.map["SiteId"].default == "1"  # type: ignore[union-attr]


@pytest.mark.parametrize(("written", "value"), [("true", "Yes"), ("no", "No"), ("'YES'", "Yes")])
def test_yes_and_no_for_a_noyes_field(direct: Config, written: str, value: str) -> None:
    direct.tasks(
        CUSTOMERS, f"ContactToCustomer:\n  map:\n    IsOneTimeCustomer: {{default: {written}}}"
    )
    leg = direct.opened().project(CUSTOMERS).effective_template().tasks[0].legs[0]
    assert leg.map["IsOneTimeCustomer"].default == value  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "written", "says"),
    [
        ("IsOneTimeCustomer", "maybe", "'maybe' is not a valid value; valid: Yes, No"),
        ("CreditLimit", "lots", "expects a number"),
        ("SiteId", "'12345678901'", "the maximum length is 10"),
        ("SiteId", "yes", "YAML reads this value as true"),
        ("PartyType", "Persn", "did you mean 'Person'?"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(
    direct: Config, field: str, written: str, says: str
) -> None:
    direct.tasks(CUSTOMERS, f"ContactToCustomer:\n  map:\n    {field}: {{default: {written}}}")
    message = direct.refused()
    names_line(message, direct, f"{field}: {{default", f"{MAP}.{field}.default")
    assert says in message


def test_an_enum_value_in_another_case_is_the_enum_value(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  map:\n    PartyType: {default: person}")
    leg = direct.opened().project(CUSTOMERS).effective_template().tasks[0].legs[0]
    assert leg.map["PartyType"].default == "Person"  # type: ignore[union-attr]


def test_a_removed_key_field_is_refused(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  remove: [PersonMiddleName, CustomerAccount]")
    message = direct.refused()
    names_line(message, direct, "remove:", "projects.2.tasks.ContactToCustomer.remove.1")
    assert "CustomerAccount is a key field of CustomersV2, and the project removes it" in message
    assert "take CustomerAccount out of remove" in message


def test_removing_a_field_the_leg_does_not_map(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  remove: [PersonMidleName]")
    message = direct.refused()
    assert "key projects.2.tasks.ContactToCustomer.remove.0" in message
    assert "did you mean 'PersonMiddleName'?" in message


def test_a_task_the_template_does_not_have(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactsToCustomer:\n  map:\n    SiteId: {default: '1'}")
    message = direct.refused()
    names_line(message, direct, "ContactsToCustomer:", "projects.2.tasks.ContactsToCustomer")
    assert "did you mean 'ContactToCustomer'?" in message


def test_an_unknown_leg_is_named(via_cds: Config) -> None:
    via_cds.tasks(
        "Contacts (Sales to Fin and Ops)",
        "Contacts:\n  legs:\n    CDS > Destinaton:\n      remove: [Notes]",
    )
    message = via_cds.refused()
    assert "task 'Contacts' has no leg 'CDS > Destinaton'" in message
    assert "did you mean 'CDS > Destination'?" in message


def test_a_field_both_mapped_and_removed(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n    SalesMemo: {default: x}\n  remove: [SalesMemo]",
    )
    message = direct.refused()
    names_line(message, direct, "SalesMemo: {default", f"{MAP}.SalesMemo")
    assert "SalesMemo is both mapped and removed (the map wins)" in message
    assert "keep one" in message


def test_a_field_changed_for_the_task_and_again_for_its_leg(via_cds: Config) -> None:
    via_cds.tasks(
        "Contacts (Sales to Fin and Ops)",
        "Contacts:\n"
        "  map:\n"
        "    Notes: {default: a}\n"
        "  legs:\n"
        "    CDS > Destination:\n"
        "      map:\n"
        "        Notes: {default: b}\n",
    )
    message = via_cds.refused()
    assert "key projects.1.tasks.Contacts.legs.CDS > Destination.map" in message
    assert "Notes is changed under the task and again under leg 'CDS > Destination'" in message
    assert "(the leg's change wins)" in message


def test_contradicting_keys_of_one_transform_name_the_one_to_remove(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  map:\n    SiteId: {default: '1', length: 4}")
    message = direct.refused()
    names_line(message, direct, "SiteId:", f"{MAP}.SiteId")
    assert "length goes with fn: truncate, not with Default: remove length" in message


def test_default_that_never_applies_beside_a_blank_key(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n"
        "    SalesMemo: {from: description, value_map: {'': none, x: y}, default: z}",
    )
    message = direct.refused()
    names_line(message, direct, "SalesMemo:", f"{MAP}.SalesMemo.default")
    assert 'default never applies: the blank key "" already says' in message


def test_a_field_given_twice_in_a_map(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n    SiteId: {default: '1'}\n    SiteId: {default: '2'}",
    )
    message = direct.refused()
    assert f"line {direct.line_of(chr(39) + '2' + chr(39))}, key {MAP}.SiteId" in message
    assert "SiteId is given twice in the same mapping" in message


def test_value_map_keys_written_as_numbers_are_text(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n"
        "    PersonGender: {from: gendercode, value_map: {1: Male, 2: Female}, else: Unknown}",
    )
    leg = direct.opened().project(CUSTOMERS).effective_template().tasks[0].legs[0]
    transform = leg.map["PersonGender"]
    assert isinstance(transform, ValueMap)
    assert transform.value_map == {"1": "Male", "2": "Female"}
    mapped = compile_map({"PersonGender": transform}).apply
    assert mapped({"gendercode": 1}) == {"PersonGender": "Male"}
    assert mapped({"gendercode": 7}) == {"PersonGender": "Unknown"}


def test_two_keys_that_read_the_same(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n"
        "    PersonGender: {from: gendercode, value_map: {1: Male, '1': Female}, else: Unknown}",
    )
    message = direct.refused()
    assert "key projects.2.tasks.ContactToCustomer.map.PersonGender.value_map.1" in message
    assert "1 is given twice in the same mapping" in message
    # Keys that differ as YAML but read as the same text: the transform model says so.
    with pytest.raises(pydantic.ValidationError, match="value_map names 'true' twice"):
        parse_transform({"from": "x", "value_map": {True: "a", "true": "b"}})


def test_a_value_map_into_a_fixed_set_needs_else(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n    PersonGender: {from: gendercode, value_map: {1: Male}}",
    )
    message = direct.refused()
    names_line(message, direct, "PersonGender:", f"{MAP}.PersonGender.value_map")
    assert "a gendercode value the map does not name" in message
    assert "add else: Unknown" in message


def test_a_yes_no_source_whose_values_all_have_a_rule_needs_no_else(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n"
        "    IsOneTimeCustomer: {from: donotemail, value_map: {true: 'Yes', false: 'No'}}",
    )
    direct.opened()


def test_else_is_checked_against_the_field(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS,
        "ContactToCustomer:\n  map:\n"
        "    PersonGender: {from: gendercode, value_map: {1: Male}, else: Unkown}",
    )
    message = direct.refused()
    names_line(message, direct, "PersonGender:", f"{MAP}.PersonGender.else")
    assert "did you mean 'Unknown'?" in message


def test_else_goes_with_a_value_map_only(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS, "ContactToCustomer:\n  map:\n    SiteId: {from: address1_city, else: '1'}"
    )
    assert "else goes with value_map, not with Default: remove else" in direct.refused()


def test_unmatched_values_pass_through_without_else_and_become_else_with_it() -> None:
    plain = parse_transform({"from": "c", "value_map": {"US": "USA"}})
    given = parse_transform({"from": "c", "value_map": {"US": "USA"}, "else": ""})
    function = parse_transform({"fn": "trim", "from": "c", "value_map": {"US": "USA"}, "else": "X"})
    record = {"c": " Narnia "}
    assert compile_map({"F": plain}).apply(record) == {"F": " Narnia "}
    assert compile_map({"F": given}).apply(record) == {"F": None}  # empty
    assert compile_map({"F": function}).apply(record) == {"F": "X"}
    assert compile_map({"F": given}).apply({"c": "US"}) == {"F": "USA"}


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("fristname", "contacts has no field 'fristname'"),
        ("parentcustomerid.accountnumbr", "no target of the lookup parentcustomerid"),
        ("firstname.name", "firstname is not a lookup of contacts"),
    ],
)
def test_a_source_field_the_source_does_not_have(direct: Config, written: str, says: str) -> None:
    direct.tasks(CUSTOMERS, f"ContactToCustomer:\n  map:\n    PersonFirstName: {written}")
    message = direct.refused()
    names_line(message, direct, "PersonFirstName:", f"{MAP}.PersonFirstName")
    assert says in message
    assert "did you mean" in message or "lookup path starts" in message


def test_a_lookup_path_resolves_through_the_lookup_targets(direct: Config) -> None:
    direct.tasks(
        CUSTOMERS, "ContactToCustomer:\n  map:\n    NameAlias: parentcustomerid.accountnumber"
    )
    direct.opened()


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ("SiteId: gendercode", "gendercode is a choice (1 Male, 2 Female) and SiteId takes text"),
        ("IsOneTimeCustomer: donotemail", 'value_map: {"true": "Yes", "false": "No"}'),
    ],
)
def test_a_source_field_of_another_kind(direct: Config, mapping: str, says: str) -> None:
    direct.tasks(CUSTOMERS, f"ContactToCustomer:\n  map:\n    {mapping}")
    message = direct.refused()
    assert f"key {MAP}.{mapping.split(':')[0]}" in message
    assert says in message


def test_constants_are_put_in_their_fields_form_and_nothing_else_changes(direct: Config) -> None:
    direct.tasks(
        CONTACTS,
        "Contacts:\n  map:\n    Notes: {fn: upper, from: description}\n"
        "    BirthYear: {default: 1990.0}",
    )
    leg = direct.opened().project(CONTACTS).effective_template().tasks[0].legs[0]
    notes, year = leg.map["Notes"], leg.map["BirthYear"]
    assert isinstance(notes, Fn) and notes.value_map is None and not notes.has_else
    assert isinstance(year, Default) and type(year.default) is int and year.default == 1990


@pytest.mark.parametrize(
    ("change", "needle", "key", "says"),
    [
        (
            "ContactToCustomer:\n  map:\n    WarehouseID: {default: '13'}",
            "WarehouseID:",
            f"{MAP}.WarehouseID",
            "CustomersV2 has no field 'WarehouseID'",
        ),
        (
            "ContactToCustomer:\n  remove: [CustomerAccount]",
            "remove:",
            "projects.2.tasks.ContactToCustomer.remove.0",
            "CustomerAccount is a key field of CustomersV2",
        ),
        (
            "ContactToCustomer:\n  map:\n"
            "    PersonGender: {from: gendercode, value_map: {1: Male}}",
            "PersonGender:",
            f"{MAP}.PersonGender.value_map",
            "add else: Unknown",
        ),
    ],
)
def test_p2c_run_refuses_a_mapping_mistake_and_writes_nothing(
    direct: Config, change: str, needle: str, key: str, says: str
) -> None:
    load_samples(direct.root)
    direct.tasks(CUSTOMERS, change)
    done = p2c("run", "-w", direct.root)
    assert done.code == ExitCode.USAGE, done.stdout + done.stderr
    message = one_line(done.stderr)
    assert f"p2c.yaml line {direct.line_of(needle)}, key {key}" in message
    assert says in message
    assert "Traceback" not in done.stderr
    nothing_written(direct.root)
