"""The admin center end to end in a real browser (Debian's chromium through Playwright):
runs, a record F&O rejects read on the run page, fixed and retried; a viewer without Run;
a form post without its CSRF token refused. Screenshots of the dashboard, a project page
and a run page go to the artifacts folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect
from web_browser import sign_in
from web_world import (
    ACCOUNTS,
    CONTACTS,
    CUSTOMERS,
    PROJECTS,
    AdminCenter,
    HeldRunner,
    admin_center,
    make_workspace,
)

from p2c.workspace import Workspace

LONG = "e0000000-0000-4000-8000-0000000000aa"
GOOD = "e0000000-0000-4000-8000-0000000000bb"
LONG_NAME = "Maximiliana-Evangelina-Theresa"  # 30 characters; F&O takes 25
# Two new customers: F&O takes one and refuses the other (the task ends Warning).
REJECTED = {
    "contacts": [
        {"contactid": LONG, "firstname": LONG_NAME, "lastname": "Long"},
        {"contactid": GOOD, "firstname": "Ada", "lastname": "Good"},
    ],
    # An invoice makes a contact an active customer: the Contacts to Customer task.
    "invoices": [
        {"name": "Big", "customerid_contact@odata.bind": f"/contacts({LONG})"},
        {"name": "Small", "customerid_contact@odata.bind": f"/contacts({GOOD})"},
    ],
}


def _row(page: Page, project: str) -> Locator:
    return page.locator(f'tr[data-project="{project}"]')


def _run_all(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_role("button", name="Run all projects").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Run \d+"))
    # The page follows the run's events and shows how it ended.
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=60_000)


def test_runs_a_rejected_record_its_reason_a_fix_and_retry_selected(
    center: AdminCenter, page: Page, artifacts: Path
) -> None:
    _run_all(page, center.url)
    page.get_by_role("link", name="Dashboard").click()
    for project in PROJECTS:
        expect(_row(page, project).locator(".status")).to_have_text("Completed")
        expect(_row(page, project).locator(".status")).to_have_class(re.compile("green"))
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # A contact F&O refuses: its first name is longer than F&O's 25 characters.
    ws = Workspace.open(center.root)
    sales = ws.sales()
    try:
        sales.load(REJECTED)
    finally:
        sales.close()
    page.goto(f"{center.url}/projects/{quote(CUSTOMERS, safe='')}")
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#run-status")).to_have_text("Warning", timeout=60_000)
    page.get_by_role("link", name="Dashboard").click()
    status = _row(page, CUSTOMERS).locator(".status").first
    expect(status).to_have_text("Warning")
    expect(status).to_have_class(re.compile("yellow"))
    expect(_row(page, ACCOUNTS).locator(".status").first).to_have_class(re.compile("green"))

    # Open the run from the dashboard and read the record's reason.
    _row(page, CUSTOMERS).get_by_role("link", name=re.compile(r"run \d+")).click()
    record = page.locator(f'tr[data-record="{LONG}"]')
    expect(record.locator(".reason")).to_have_text(
        "First name: value is 30 characters long; the maximum length is 25."
    )
    expect(record).to_contain_text("PersonFirstName")
    expect(record.locator(".fix")).to_have_text(
        "PersonFirstName is copied from the contact's firstname in Sales: shorten it to 25 "
        "characters there (or map it through a function, fn truncate with length 25, in the "
        "mapping editor), then Retry selected."
    )
    expect(record).to_contain_text(f"{LONG_NAME} Long")
    expect(record).to_contain_text(re.compile(r"usmf/CON-\d{5}-\w{6}"))
    page.screenshot(path=str(artifacts / "run.png"), full_page=True)

    # Fix the cause in Sales, select the record, Retry selected: green again.
    sales = ws.sales()
    try:
        sales.update("contacts", LONG, {"firstname": "Maxi"})
    finally:
        sales.close()
    record.get_by_role("checkbox").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=60_000)
    expect(page.get_by_role("row", name=re.compile("ContactToCustomer"))).to_contain_text("1")
    page.get_by_role("link", name="Dashboard").click()
    status = _row(page, CUSTOMERS).locator(".status").first
    expect(status).to_have_text("Completed")
    expect(status).to_have_class(re.compile("green"))
    expect(_row(page, CUSTOMERS)).to_contain_text("0")  # the error queue is empty again

    # Each change is in the audit log, with who and when.
    page.get_by_role("link", name="Audit").click()
    audit = page.locator("table.audit tbody")
    expect(audit).to_contain_text("errors.retry")
    expect(audit).to_contain_text("run.start")
    expect(audit.locator("tr").first).to_contain_text("web:alice")


def test_the_project_page_shows_the_mapping_and_its_tabs(
    center: AdminCenter, page: Page, artifacts: Path
) -> None:
    page.goto(f"{center.url}/projects/{quote(CUSTOMERS, safe='')}")
    expect(page.get_by_role("heading", name="Task: ContactToCustomer")).to_be_visible()
    group = page.locator('tr[data-field="CustomerGroupId"]')
    expect(group).to_contain_text("Default")
    expect(group).to_contain_text("10")
    country = page.locator('tr[data-field="AddressCountryRegionISOCode"]')
    expect(country).to_contain_text("ValueMap")
    expect(country.get_by_role("table")).to_be_visible()
    expect(page.get_by_text("msdynce_isactivecustomer eq true")).to_be_visible()
    page.screenshot(path=str(artifacts / "project.png"), full_page=True)
    page.get_by_role("link", name="Execution history").click()
    expect(page.get_by_role("heading", name="Execution history (last 45 days)")).to_be_visible()
    page.get_by_role("link", name="Scheduling").click()
    expect(page.get_by_role("heading", name="Recurrence")).to_be_visible()


def test_a_viewer_has_no_run_button_and_its_post_is_refused(
    center: AdminCenter, signed_in: Callable[[str], Page]
) -> None:
    page = signed_in("victor")
    page.goto(f"{center.url}/projects/{quote(ACCOUNTS, safe='')}")
    expect(page.get_by_role("heading", name="Task: Accounts - Customers")).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    expect(page.get_by_role("button", name="Dry run")).to_have_count(0)
    # The same post a Run button makes, with the viewer's own valid CSRF token: 403.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    answer = page.request.post(
        f"{center.url}/projects/{quote(ACCOUNTS, safe='')}/run", form={"csrf_token": token}
    )
    assert answer.status == 403
    assert center.service.history.runs().runs == []


def test_a_form_post_without_its_csrf_token_is_refused(
    center: AdminCenter, signed_in: Callable[[str], Page]
) -> None:
    page = signed_in("olivia")
    answer = page.request.post(f"{center.url}/projects/{quote(CONTACTS, safe='')}/run", form={})
    assert answer.status == 403
    assert "security token" in answer.text()
    assert center.service.history.runs().runs == []


def test_a_dry_run_previews_without_writing(center: AdminCenter, page: Page) -> None:
    page.goto(f"{center.url}/projects/{quote(ACCOUNTS, safe='')}")
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Dry run dry-\d+"))
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=60_000)
    expect(page.locator("ul.examples")).to_contain_text("create usmf/ACC-")
    assert center.service.history.runs().runs == []


def test_usable_at_phone_width(center: AdminCenter, new_page: Callable[..., Page]) -> None:

    page = sign_in(new_page(width=390, height=844), center.url, "alice")
    expect(page.get_by_role("link", name=ACCOUNTS)).to_be_visible()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    customers = quote(CUSTOMERS, safe="")
    for path in (
        "/",
        "/errors",
        "/projects/new",
        f"/projects/{customers}",
        f"/projects/{customers}/tasks/ContactToCustomer/mapping?field=PersonGender",
        "/templates",
        "/users",
    ):
        page.goto(center.url + path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        # Nothing wider than the screen, and no table that hides columns to the right:
        # at phone width the rows stack, each cell a line with its column's name.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, path
        hidden = page.evaluate(
            "Array.from(document.querySelectorAll('.table-wrap'))"
            ".filter(w => w.scrollWidth > w.clientWidth + 1).length"
        )
        assert hidden == 0, path


def test_a_running_run_shows_its_progress_live(
    tmp_path: Path, new_page: Callable[..., Page]
) -> None:

    root = make_workspace(tmp_path / "ws")
    runner = HeldRunner(root)
    with admin_center(root, runner=runner) as center:
        page = sign_in(new_page(), center.url, "olivia")
        page.goto(f"{center.url}/projects/{quote(ACCOUNTS, safe='')}")
        page.get_by_role("button", name="Run now").click()
        # The run is held after its first task: the page shows it running, and the events
        # of that task arrived through the event stream.
        expect(page.locator("#run-status")).to_have_text("Running")
        progress = page.get_by_role("log")
        expect(progress).to_contain_text(f"started {ACCOUNTS} / Accounts - Customers")
        expect(progress).to_contain_text("task ended Completed: 1 created")
        assert runner.held.is_set()
        runner.gate.set()
        # The end event reloads the page with the run's outcome.
        expect(page.locator("#run-status")).to_have_text("Completed", timeout=60_000)
