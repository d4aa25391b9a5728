"""Browser helpers of the admin center's tests, imported by name (pytest's conftest
modules of several folders share the module name ``conftest``)."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from web_world import PASSWORD


def sign_in(page: Page, url: str, name: str) -> Page:
    """Sign in through the form, as a person does."""
    page.goto(f"{url}/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    return page
