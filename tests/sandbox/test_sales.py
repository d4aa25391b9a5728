from __future__ import annotations

import re
from typing import Any

import pytest

from p2c import InputError
from p2c.sandbox import SalesSandbox

ACC = "11111111-1111-4111-8111-111111111111"
CON = "22222222-2222-4222-8222-222222222222"
NUMBER = re.compile(r"^CON-\d{5}-[A-Z0-9]{6}$")


def contact(sales: SalesSandbox, contact_id: str) -> dict[str, Any]:
    return next(c for c in sales.export("contacts") if c["contactid"] == contact_id)


def test_contact_number_shape_increasing_and_unique(sales: SalesSandbox) -> None:
    sales.load({"contacts": [{"lastname": f"L{i}"} for i in range(30)]})
    numbers = [c["msdynce_contactnumber"] for c in sales.export("contacts")]
    assert all(NUMBER.match(n) for n in numbers)
    counters = sorted(int(n.split("-")[1]) for n in numbers)
    assert counters == list(range(1000, 1030))
    assert len(set(numbers)) == 30


def test_duplicate_contact_number_is_rejected(sales: SalesSandbox) -> None:
    sales.load({"contacts": [{"lastname": "A", "msdynce_contactnumber": "CON-09999-AAAAAA"}]})
    with pytest.raises(InputError) as caught:
        sales.load({"contacts": [{"lastname": "B", "msdynce_contactnumber": "CON-09999-AAAAAA"}]})
    assert caught.value.problems[0].field == "msdynce_contactnumber"
    assert "already exists" in caught.value.problems[0].message
    assert sales.count("contacts") == 1


def test_account_number_given_when_empty_and_kept_when_set(sales: SalesSandbox) -> None:
    sales.load({"accounts": [{"name": "Fabrikam"}, {"name": "Contoso", "accountnumber": "C-1"}]})
    numbers = {a["name"]: a["accountnumber"] for a in sales.export("accounts")}
    assert re.match(r"^ACC-01000-[A-Z0-9]{6}$", numbers["Fabrikam"])
    assert numbers["Contoso"] == "C-1"


def test_company_flag_on_create_and_update(sales: SalesSandbox) -> None:
    sales.load(
        {
            "accounts": [{"accountid": ACC, "name": "Fabrikam"}],
            "contacts": [
                {
                    "contactid": CON,
                    "lastname": "Lee",
                    "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
                },
                {
                    "contactid": "33333333-3333-4333-8333-333333333333",
                    "lastname": "Kid",
                    "parentcustomerid_contact@odata.bind": f"/contacts({CON})",
                },
            ],
        }
    )
    assert contact(sales, CON)["msdynce_iscompanyanaccount"] is True
    kid = "33333333-3333-4333-8333-333333333333"
    assert contact(sales, kid)["msdynce_iscompanyanaccount"] is False
    sales.update("contacts", kid, {"parentcustomerid_account@odata.bind": f"/accounts({ACC})"})
    assert contact(sales, kid)["msdynce_iscompanyanaccount"] is True
    sales.update("contacts", CON, {"parentcustomerid_contact@odata.bind": f"/contacts({kid})"})
    assert contact(sales, CON)["msdynce_iscompanyanaccount"] is False


@pytest.mark.parametrize("activity", ["quotes", "salesorders", "invoices"])
def test_activity_makes_active_customer(sales: SalesSandbox, activity: str) -> None:
    sales.load({"contacts": [{"contactid": CON, "lastname": "Lee"}]})
    assert contact(sales, CON)["msdynce_isactivecustomer"] is False
    sales.load({activity: [{"name": "Deal", "customerid_contact@odata.bind": f"/contacts({CON})"}]})
    assert contact(sales, CON)["msdynce_isactivecustomer"] is True


@pytest.mark.parametrize("activity", ["quotes", "salesorders", "invoices"])
def test_repointed_activity_makes_active_customer_and_is_never_cleared(
    sales: SalesSandbox, activity: str
) -> None:
    other = "44444444-4444-4444-8444-444444444444"
    sales.load(
        {
            "accounts": [{"accountid": ACC, "name": "Fabrikam"}],
            "contacts": [
                {"contactid": CON, "lastname": "Lee"},
                {"contactid": other, "lastname": "Ng"},
            ],
        }
    )
    ids = sales.create(
        activity, [{"name": "Deal", "customerid_account@odata.bind": f"/accounts({ACC})"}]
    )
    assert contact(sales, CON)["msdynce_isactivecustomer"] is False
    sales.update(activity, ids[0], {"customerid_contact@odata.bind": f"/contacts({CON})"})
    assert contact(sales, CON)["msdynce_isactivecustomer"] is True
    sales.update(activity, ids[0], {"customerid_contact@odata.bind": f"/contacts({other})"})
    assert contact(sales, CON)["msdynce_isactivecustomer"] is True  # never cleared
    assert contact(sales, other)["msdynce_isactivecustomer"] is True


def test_upgrade_on_pre_existing_sales_and_idempotence(bare_sales: SalesSandbox) -> None:
    bare_sales.load(
        {
            "accounts": [
                {"accountid": ACC, "name": "Fabrikam"},
                {"name": "Has number", "accountnumber": "X1"},
            ],
            "contacts": [
                {
                    "contactid": CON,
                    "lastname": "Lee",
                    "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
                },
                {"lastname": "Solo"},
            ],
            "quotes": [{"name": "Q", "customerid_contact@odata.bind": f"/contacts({CON})"}],
        }
    )
    before = list(bare_sales.export("contacts"))
    assert "msdynce_contactnumber" not in before[0]  # the solution's columns are not there yet
    with pytest.raises(InputError):
        bare_sales.load({"contacts": [{"lastname": "X", "msdynce_contactnumber": "CON-1"}]})
    first = bare_sales.upgrade()
    assert (first.solution_installed, first.contact_numbers, first.account_numbers) == (True, 2, 1)
    assert first.active_customers == 1
    after = {c["contactid"]: c for c in bare_sales.export("contacts")}
    assert all(NUMBER.match(c["msdynce_contactnumber"]) for c in after.values())
    assert after[CON]["msdynce_isactivecustomer"] is True
    assert after[CON]["msdynce_iscompanyanaccount"] is True
    # Contacts without sales activity get the column's default, No, not an empty value.
    solo = next(c for c in after.values() if c["lastname"] == "Solo")
    assert solo["msdynce_isactivecustomer"] is False
    assert solo["msdynce_iscompanyanaccount"] is False
    accounts = {a["name"]: a["accountnumber"] for a in bare_sales.export("accounts")}
    assert accounts["Has number"] == "X1" and accounts["Fabrikam"].startswith("ACC-")
    second = bare_sales.upgrade()
    assert second.changed == 0
    assert {c["contactid"]: c for c in bare_sales.export("contacts")} == after


def test_bad_load_names_position_field_and_fix_and_writes_nothing(sales: SalesSandbox) -> None:
    with pytest.raises(InputError) as caught:
        sales.load(
            {
                "accounts": [{"name": "Ok"}],
                "contacts": [
                    {"lastname": "A"},
                    {"fristname": "B", "lastname": "B"},
                    {"lastname": "C", "parentcustomerid_account@odata.bind": f"/accounts({ACC})"},
                    {"firstname": "no last name"},
                ],
            }
        )
    problems = {(p.record, p.field): p for p in caught.value.problems}
    assert problems[("contacts[1]", "fristname")].fix == "did you mean 'firstname'?"
    missing = problems[("contacts[2]", "parentcustomerid_account@odata.bind")]
    assert "Does Not Exist" in missing.message
    assert ("contacts[3]", "lastname") in problems
    assert sales.count("accounts") == 0 and sales.count("contacts") == 0


def test_unknown_entity_set_and_lookup_written_as_column(sales: SalesSandbox) -> None:
    with pytest.raises(InputError) as caught:
        sales.load({"leads": []})
    assert "unknown entity set 'leads'" in caught.value.problems[0].message
    with pytest.raises(InputError) as caught:
        sales.load({"contacts": [{"lastname": "A", "parentcustomerid": ACC}]})
    assert "parentcustomerid_account@odata.bind" in (caught.value.problems[0].fix or "")


def test_binds_within_the_file_in_any_order_and_by_alternate_key(sales: SalesSandbox) -> None:
    sales.load(
        {
            "contacts": [
                {"lastname": "Kid", "parentcustomerid_contact@odata.bind": f"/contacts({CON})"},
                {
                    "contactid": CON,
                    "lastname": "Parent",
                    "msdynce_contactnumber": "CON-77777-ABCDEF",
                },
            ]
        }
    )
    sales.load(
        {
            "quotes": [
                {
                    "name": "Q",
                    "customerid_contact@odata.bind": (
                        "/contacts(msdynce_contactnumber='CON-77777-ABCDEF')"
                    ),
                }
            ]
        }
    )
    assert contact(sales, CON)["msdynce_isactivecustomer"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lastname": 5}, "lastname"),
        ({"lastname": "x" * 51}, "lastname"),
        (
            {"name": "Q", "customerid_contact@odata.bind": "not a reference"},
            "customerid_contact@odata.bind",
        ),
        (
            {"name": "Q", "customerid_contact@odata.bind": f"/accounts({ACC})"},
            "customerid_contact@odata.bind",
        ),
    ],
)
def test_a_wrong_value_is_one_problem_not_also_a_missing_one(
    sales: SalesSandbox, body: dict[str, Any], field: str
) -> None:
    entity_set = "quotes" if "name" in body else "contacts"
    with pytest.raises(InputError) as caught:
        sales.load({entity_set: [body]})
    assert [(p.record, p.field) for p in caught.value.problems] == [(f"{entity_set}[0]", field)]


def test_load_is_all_or_nothing_across_entity_sets(sales: SalesSandbox) -> None:
    with pytest.raises(InputError):
        sales.load(
            {
                "accounts": [{"name": "Fabrikam"}],
                "contacts": [{"lastname": "Lee"}],
                "quotes": [{"name": "Q", "customerid_contact@odata.bind": f"/contacts({CON})"}],
            }
        )
    assert (sales.count("accounts"), sales.count("contacts"), sales.count("quotes")) == (0, 0, 0)
    # Nothing was taken from the number sequence either.
    sales.load({"contacts": [{"lastname": "Lee"}]})
    (only,) = sales.export("contacts")
    assert only["msdynce_contactnumber"].startswith("CON-01000-")
