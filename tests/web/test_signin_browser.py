"""Signing in to the admin center in a real browser."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from web_browser import sign_in
from web_world import AdminCenter


def test_a_page_without_a_session_redirects_to_sign_in_and_back(
    center: AdminCenter, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto(f"{center.url}/projects")
    expect(page).to_have_url(f"{center.url}/sign-in?next=%2Fprojects")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{center.url}/projects")
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()


def test_a_wrong_password_is_refused(center: AdminCenter, new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto(f"{center.url}/sign-in")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    cookies = page.context.cookies()
    assert all(c["name"] != "p2c_session" or "alice" not in c["value"] for c in cookies)


def test_the_session_cookie_is_http_only_and_same_site(
    center: AdminCenter, new_page: Callable[..., Page]
) -> None:
    page = sign_in(new_page(), center.url, "victor")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "p2c_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP on loopback; Secure under TLS
    assert page.evaluate("document.cookie") == ""
