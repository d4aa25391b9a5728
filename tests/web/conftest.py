"""Fixtures of the admin center's tests: a served workspace, a real chromium (Debian's,
driven by Playwright's sync API), pages signed in as each role, and the folder where
screenshots go (``P2C_ARTIFACTS``, else a folder of the test session)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from web_browser import sign_in
from web_client import Web, make_web
from web_world import AdminCenter, admin_center, make_workspace

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
expect.set_options(timeout=20_000)


@pytest.fixture
def center(tmp_path: Path) -> Iterator[AdminCenter]:
    """The admin center over a fresh workspace (users alice, olivia, victor)."""
    with admin_center(make_workspace(tmp_path / "ws")) as served:
        yield served


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in contexts of their own (their own cookies), 1280 px wide by default."""
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in(center: AdminCenter, new_page: Callable[..., Page]) -> Callable[[str], Page]:
    """A page signed in as ``name`` (alice admin, olivia operator, victor viewer)."""

    def make(name: str = "alice") -> Page:
        return sign_in(new_page(), center.url, name)

    return make


@pytest.fixture
def page(signed_in: Callable[[str], Page]) -> Page:
    """A page signed in as the admin."""
    return signed_in("alice")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: P2C_ARTIFACTS, else a folder of this test session."""
    given = os.environ.get("P2C_ARTIFACTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """The admin center in-process (TestClient), not signed in."""
    made = make_web(make_workspace(tmp_path / "ws"))
    with made.client:
        yield made
    made.service.stop(timeout=30)
    made.service.close()
