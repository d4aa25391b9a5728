"""The public model of Dynamics: systems, entities, fields and the write outcome."""

from __future__ import annotations

import re
from typing import Any

import pytest

from p2c import NotFoundError
from p2c.dynamics import (
    CDS,
    FINOPS,
    SALES,
    Activity,
    Entity,
    Field,
    FieldType,
    Outcome,
    SystemModel,
    WriteStatus,
    format_number,
    system_model,
)


def test_entities_are_found_by_entity_set_or_logical_name() -> None:
    assert SALES.entity("contacts") is SALES.entity("contact")
    assert FINOPS.entity("CustomersV2").name == "CustomerV2"
    assert CDS.entity("Contact").key == ("Organization_OrganizationId", "ContactNumber")


def test_dataverse_names_are_exact_and_fno_names_ignore_case() -> None:
    assert SALES.find("Contacts") is None
    assert FINOPS.find("customersv2") is FINOPS.entity("CustomersV2")


def test_an_unknown_entity_names_the_nearest_one() -> None:
    with pytest.raises(NotFoundError) as caught:
        SALES.entity("contcts")
    assert "Sales has no entity set 'contcts'" in str(caught.value)
    assert "did you mean 'contacts'?" in (caught.value.fix or "")


def test_systems_are_found_by_their_template_name() -> None:
    assert system_model("finops") is FINOPS
    with pytest.raises(NotFoundError, match="no system 'crm'"):
        system_model("crm")


def test_the_model_says_what_differs_per_entity() -> None:
    assert SALES.entity("contacts").organization == "owningbusinessunit.name"
    assert SALES.entity("contacts").activity == Activity("statecode", 0, 1)
    assert FINOPS.entity("CDSContactPersons").organization == "dataAreaId"
    assert FINOPS.entity("CDSContactPersons").activity == Activity("IsInactive", "No", "Yes")
    assert CDS.entity("Contact").organization == "Organization_OrganizationId"
    assert FINOPS.entity("CustomersV2").activity is None


def test_an_added_entity_is_found_in_its_system_only() -> None:
    model = SystemModel("finops", "Finance and Operations", [], ignore_case=True)
    products = Entity(
        "ReleasedProductV2",
        "ReleasedProductsV2",
        (Field("dataAreaId", max_length=4, fold_case=True), Field("ItemNumber", max_length=20)),
        key=("dataAreaId", "ItemNumber"),
        organization="dataAreaId",
    )
    model.add(products)
    assert model.entity("releasedproductsv2") is products
    assert model.entities == (products,)
    assert FINOPS.find("ReleasedProductsV2") is None


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        (FieldType.STRING, "Ann", "Ann"),
        (FieldType.INT, 7, 7),
        (FieldType.MONEY, 3, 3.0),
        (FieldType.BOOL, True, 1),
        (FieldType.NOYES, "Yes", "Yes"),
        (FieldType.DATETIME, "2026-01-31T09:00:00+01:00", "2026-01-31T08:00:00Z"),
    ],
)
def test_a_field_converts_a_json_value_to_its_stored_form(
    kind: FieldType, value: Any, stored: Any
) -> None:
    assert Field("x", kind).coerce(value) == stored


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (Field("x", FieldType.STRING, 3), "long", "maximum length is 3"),
        (Field("x", FieldType.INT), 2**31, "outside the range"),
        (Field("x", FieldType.INT), True, "expects a whole number"),
        (Field("x", FieldType.NOYES), "Maybe", "valid: Yes, No"),
        (Field("x", FieldType.GUID), "nope", "is not a GUID"),
    ],
)
def test_a_field_refuses_a_bad_value_with_the_reason(field: Field, value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        field.coerce(value)


def test_the_write_outcome_status_reads_as_text() -> None:
    outcome = Outcome(("usmf", "C1"), WriteStatus.FAILED, "CustomerGroupId", "no group")
    assert outcome.status == "failed"
    assert outcome.retryable is False


def test_contact_numbers_have_the_solution_format() -> None:
    assert re.fullmatch(r"CON-01000-[A-Z0-9]{6}", format_number("CON", 1000, 6))


def test_the_model_says_how_a_person_names_a_record() -> None:
    customers = FINOPS.entity("CustomersV2")
    assert customers.record_name({"OrganizationName": "Fabrikam"}) == "Fabrikam"
    assert customers.record_name({"PersonFirstName": "Ann", "PersonLastName": "Lee"}) == "Ann Lee"
    assert customers.record_name({"PersonLastName": "Lee"}) == "Lee"
    assert customers.record_name({"CustomerAccount": "C1"}) is None
