"""Source filters checked against the source entity when p2c.yaml is read: types, dates,
fields, syntax, depth; an empty filter is refused and ``filter: all`` reads everything; a
list of 1,500 ids passes."""

from __future__ import annotations

import uuid

import pytest
from config_helpers import CONTACTS, CUSTOMERS, Config, names_line, nothing_written, one_line, p2c

from p2c import ExitCode
from p2c.config import MAX_FILTER_DEPTH
from p2c.config._filters import nesting

FILTER = "projects.1.tasks.Contacts.filter"


def with_filter(config: Config, text: str) -> None:
    quoted = text.replace('"', '\\"')
    config.tasks(CONTACTS, f'Contacts:\n  filter: "{quoted}"')


@pytest.mark.parametrize(
    ("text", "says", "fix"),
    [
        (
            "msdynce_isactivecustomer eq 'Yes'",
            "compares msdynce_isactivecustomer, which is yes/no (true or false), with 'Yes'",
            "write msdynce_isactivecustomer eq true (or false), without quotes",
        ),
        (
            "address1_postalcode eq 12345",
            "compares address1_postalcode, which is text of at most 20 characters, with 12345",
            "quote the value: address1_postalcode eq '12345'",
        ),
        (
            "gendercode eq '1'",
            "compares gendercode, which is a choice (1 Male, 2 Female), with '1'",
            "write the number without quotes",
        ),
        (
            "statecode eq 5",
            "compares statecode, which is a choice (0 Active, 1 Inactive), with 5",
            "use one of the options",
        ),
        (
            "modifiedon gt 2024-02-30T00:00:00Z",
            "'2024-02-30T00:00:00Z' is not a valid date and time for modifiedon",
            "write a date and time that exists",
        ),
        (
            "createdon ge '31/01/2024'",
            "'31/01/2024' is not a valid date and time for createdon",
            "as 2024-01-31T00:00:00Z",
        ),
        ("msdynce_isactivecustomr eq true", "contacts has no field", "did you mean"),
        ("contains(gendercode, '1')", "contains() reads text, and gendercode is", "compare"),
        ("firstname eq", "Cannot read the filter", "OData $filter syntax"),
        ("parentcustomerid eq 'ACC-1'", "which is a lookup (a GUID), with 'ACC-1'", "a GUID"),
    ],
)
def test_a_filter_that_cannot_work_is_refused(
    direct: Config, text: str, says: str, fix: str
) -> None:
    with_filter(direct, text)
    message = direct.refused()
    names_line(message, direct, "filter:", FILTER)
    assert says in message
    assert fix in message


def test_comparisons_that_fit_pass(direct: Config) -> None:
    with_filter(
        direct,
        "msdynce_isactivecustomer eq false and address1_country eq 'Sweden' and gendercode eq 1"
        " and modifiedon ge 2024-01-31T00:00:00Z and parentcustomerid.accountnumber ne null"
        " and not startswith(lastname, 'Te')",
    )
    direct.opened()


def test_a_filter_on_the_hub_is_checked_against_the_hub(via_cds: Config) -> None:
    via_cds.tasks(
        "Contacts (Sales to Fin and Ops)",
        "Contacts:\n  legs:\n    CDS > Destination:\n      filter: \"StateCode eq 'Actve'\"",
    )
    message = via_cds.refused()
    assert "key projects.1.tasks.Contacts.legs.CDS > Destination.filter" in message
    assert "did you mean 'Active'?" in message


def test_an_empty_filter_is_refused_with_the_rule_it_would_drop(direct: Config) -> None:
    direct.tasks(CUSTOMERS, 'ContactToCustomer:\n  filter: ""')
    message = direct.refused()
    names_line(message, direct, "filter:", "projects.2.tasks.ContactToCustomer.filter")
    assert "would drop the template's rule `msdynce_isactivecustomer eq true`" in message
    assert "write filter: all to read every record" in message


def test_filter_all_reads_every_record(direct: Config) -> None:
    direct.tasks(CUSTOMERS, "ContactToCustomer:\n  filter: all")
    leg = direct.opened().project(CUSTOMERS).effective_template().tasks[0].legs[0]
    assert leg.source.filter is None


def test_a_list_of_1500_ids_passes() -> None:
    """The checks walk the filter with a loop: 1,500 ``or`` terms are a chain 1,500 deep."""
    from p2c.config._filters import check_filter
    from p2c.dynamics import SALES

    ids = [str(uuid.UUID(int=n)) for n in range(1500)]
    text = " or ".join(f"contactid eq '{i}'" for i in ids)
    assert check_filter(text, SALES, SALES.entity("contacts")) == []


def test_a_list_of_1500_ids_in_p2c_yaml_passes(direct: Config) -> None:
    ids = [str(uuid.UUID(int=n)) for n in range(1500)]
    with_filter(direct, " or ".join(f"contactid eq '{i}'" for i in ids))
    leg = direct.opened().project(CONTACTS).effective_template().tasks[0].legs[0]
    assert leg.source.filter is not None and leg.source.filter.count(" or ") == 1499


@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 400])
def test_nesting_past_the_limit_is_named(direct: Config, depth: int) -> None:
    with_filter(direct, "(" * depth + "statecode eq 0" + ")" * depth)
    message = direct.refused()
    names_line(message, direct, "filter:", FILTER)
    assert f"the filter nests {depth} levels deep (parentheses and not); p2c reads at most " in (
        message
    )


def test_nesting_counts_parentheses_and_not_outside_text() -> None:
    assert nesting("a eq 1 or b eq 2") == 0
    assert nesting("(a eq 1) and (b eq '((((')") == 1
    assert nesting("not (not (a eq 1))") == 4
    assert nesting("not not a eq true") == 2
    assert nesting("((a eq 1) or (b eq 2)) and c eq 3") == 2


def test_p2c_run_refuses_a_wrong_filter_and_writes_nothing(direct: Config) -> None:
    with_filter(direct, "msdynce_isactivecustomer eq 'No'")
    done = p2c("run", "-w", direct.root)
    assert done.code == ExitCode.USAGE
    message = one_line(done.stderr)
    assert f"p2c.yaml line {direct.line_of('filter:')}, key {FILTER}" in message
    assert "Traceback" not in done.stderr
    nothing_written(direct.root)


def test_a_filter_set_for_the_task_and_again_for_its_first_leg(via_cds: Config) -> None:
    via_cds.tasks(
        "Contacts (Sales to Fin and Ops)",
        "Contacts:\n"
        "  filter: msdynce_isactivecustomer eq false\n"
        "  legs:\n"
        "    Source > CDS:\n"
        "      filter: statecode eq 0\n",
    )
    message = via_cds.refused()
    names_line(message, via_cds, "filter: statecode", "projects.1.tasks.Contacts.legs")
    assert "the filter is set under the task and again under leg 'Source > CDS'" in message
    assert "keep one of the two filters" in message
