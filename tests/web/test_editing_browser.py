"""The mapping editor end to end in a real browser: an admin selects the arrow of a field,
edits its value map, sees the diff of p2c.yaml and saves; the next run writes F&O with it,
and p2c.yaml keeps its comments. An edit the checks refuse shows the problem and writes
nothing; a viewer and an operator see no editing button and their post is refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, Page, expect
from web_world import CUSTOMERS, AdminCenter

from p2c.templates import ValueMap
from p2c.workspace import CONFIG_FILE, Workspace

ADA = "e0000000-0000-4000-8000-0000000000cc"
# An active customer (an invoice makes her one) whose country Sales spells in Swedish.
SVERIGE = {
    "contacts": [
        {"contactid": ADA, "firstname": "Ada", "lastname": "Sverige", "address1_country": "Sverige"}
    ],
    "invoices": [{"name": "First", "customerid_contact@odata.bind": f"/contacts({ADA})"}],
}
COMMENTS = (
    "# Contoso's integration: edited in the admin center too.\n",
    "  # Customers: sites and warehouses come later.\n",
)
FIELD = "AddressCountryRegionISOCode"


def editor(page: Page) -> Locator:
    """The form of the field being edited."""
    return page.get_by_role("form", name=re.compile("^Mapping of "))


def _commented(center: AdminCenter) -> str:
    """p2c.yaml with comments of a person's, above the file and inside the last project."""
    path = center.root / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    at = text.index(f"  template: {CUSTOMERS}")
    text = COMMENTS[0] + text[:at] + COMMENTS[1] + text[at:]
    path.write_text(text, encoding="utf-8")
    center.service.reload()
    return text


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def _customer(center: AdminCenter, last_name: str) -> dict[str, object]:
    finops = Workspace.open(center.root).finops()
    try:
        found = [r for r in finops.export("CustomersV2") if r.get("PersonLastName") == last_name]
    finally:
        finops.close()
    assert len(found) == 1, found
    return found[0]


def test_an_admin_edits_a_value_map_and_the_next_run_uses_it(
    center: AdminCenter, page: Page
) -> None:
    before = _commented(center)
    sales = Workspace.open(center.root).sales()
    try:
        sales.load(SVERIGE)
    finally:
        sales.close()
    project = f"{center.url}/projects/{quote(CUSTOMERS, safe='')}"
    page.goto(project)
    page.get_by_role("link", name=f"Edit mapping of {FIELD}").click()
    expect(page.get_by_role("heading", name=f"Mapping of {FIELD}")).to_be_visible()
    expect(page.get_by_label("Source value 10", exact=True)).to_have_value("Sweden")

    # An edit the checks refuse: PersonGender takes one of F&O's genders, not "Robot".
    page.get_by_role("link", name="Edit mapping of PersonGender").click()
    expect(page.get_by_role("heading", name="Mapping of PersonGender")).to_be_visible()
    page.get_by_label("Destination value 1", exact=True).fill("Robot")
    editor(page).get_by_role("button", name="Show the change").click()
    problem = page.locator(".problems")
    expect(problem).to_contain_text("Not saved: the checks of p2c.yaml refuse this change")
    expect(problem).to_contain_text("PersonGender")
    expect(problem).to_contain_text("'Robot'")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    assert (center.root / CONFIG_FILE).read_text(encoding="utf-8") == before

    # The value map: Sverige is Sweden too.
    page.get_by_role("link", name=f"Edit mapping of {FIELD}").click()
    expect(page.get_by_role("heading", name=f"Mapping of {FIELD}")).to_be_visible()
    rows = Workspace.open(center.root).project(CUSTOMERS).effective_template().tasks[0]
    country = rows.legs[0].map[FIELD]
    assert isinstance(country, ValueMap)
    first_empty = len(country.value_map) + 1
    page.get_by_label(f"Source value {first_empty}", exact=True).fill("Sverige")
    page.get_by_label(f"Destination value {first_empty}", exact=True).fill("SWE")
    editor(page).get_by_role("button", name="Show the change").click()
    diff = page.get_by_label("Diff of p2c.yaml")
    expect(diff).to_contain_text("Sverige: SWE")
    expect(diff.locator(".add").first).to_contain_text("+")
    assert (center.root / CONFIG_FILE).read_text(encoding="utf-8") == before  # not yet
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_contain_text("Saved p2c.yaml")
    expect(page.locator(f'tr[data-field="{FIELD}"]')).to_contain_text("changed in this project")

    after = (center.root / CONFIG_FILE).read_text(encoding="utf-8")
    assert _comments(after) == _comments(before)
    assert "Sverige: SWE" in after

    # The next run maps Sverige to SWE (F&O would refuse "Sverige" as a country).
    page.goto(center.url + "/")
    page.get_by_role("button", name="Run all projects").click()
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=60_000)
    assert _customer(center, "Sverige")[FIELD] == "SWE"

    page.get_by_role("link", name="Audit").click()
    audit = page.locator("table.audit tbody")
    expect(audit).to_contain_text("config.edit")
    expect(audit.get_by_role("row").filter(has_text="config.edit").first).to_contain_text(
        "web:alice"
    )


@pytest.mark.parametrize("name", ["victor", "olivia"])
def test_a_viewer_or_operator_cannot_edit(
    center: AdminCenter, signed_in: Callable[[str], Page], name: str
) -> None:
    before = (center.root / CONFIG_FILE).read_text(encoding="utf-8")
    page = signed_in(name)
    project = f"{center.url}/projects/{quote(CUSTOMERS, safe='')}"
    page.goto(project)
    expect(page.get_by_role("heading", name="Task: ContactToCustomer")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Edit mapping"))).to_have_count(0)
    expect(page.get_by_role("link", name="Save as template")).to_have_count(0)
    page.goto(center.url + "/projects")
    expect(page.get_by_role("link", name="New project")).to_have_count(0)
    # The post the editor's Save makes, with the user's own valid CSRF token: 403.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    form: dict[str, str | float | bool] = {
        "csrf_token": token,
        "op": "map",
        "task": "ContactToCustomer",
        "field": "SiteId",
        "kind": "default",
        "default": "1",
    }
    answer = page.request.post(f"{project}/edit", form=form)
    assert answer.status == 403
    assert page.request.get(f"{project}/tasks/ContactToCustomer/mapping").status == 403
    assert (center.root / CONFIG_FILE).read_text(encoding="utf-8") == before
