"""Sign-in with Entra ID against a real OpenID Connect provider on loopback (the test's own,
shaped as Entra ID's v2.0 endpoints, signing id tokens with a test key): the authorization
code flow with PKCE and nonce, roles by user name and by group, and each way a sign-in is
refused: not listed, a forged or misdirected token, a state this session did not start."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from oidc_provider import CLIENT_ID, CLIENT_SECRET, TENANT, Provider, _key, oidc_provider
from playwright.sync_api import Page, expect
from web_world import AdminCenter, admin_center, make_workspace

from p2c import ConfigError
from p2c.service import Service, build_api
from p2c.web import UserStore, mount_web
from p2c.workspace import CONFIG_FILE, Workspace

ADMINS = "0b4c5d6e-1111-4222-8333-944455566677"
SECRET_ENV = "P2C_ENTRA_CLIENT_SECRET"


def _configure(root: Path, provider: Provider, **extra: Any) -> None:
    path = root / CONFIG_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["admin_center"] = {
        "entra_id": {
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "authority": provider.base,
            "users": {"Ada@contoso.com": "operator", "zoe@contoso.com": "viewer"},
            "groups": {ADMINS: "admin"},
            **extra,
        }
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oidc_provider() as running:
        yield running


@pytest.fixture
def entra_center(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AdminCenter]:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    root = make_workspace(tmp_path / "ws", contacts=2)
    _configure(root, provider)
    with admin_center(root) as served:
        yield served


def _browser(center: AdminCenter) -> httpx.Client:
    return httpx.Client(base_url=center.url, follow_redirects=True, timeout=30)


def _signed_in_as(client: httpx.Client) -> str | None:
    page = client.get("/", follow_redirects=False)
    if page.status_code != 200:
        return None
    found = re.search(r"(entra:[^\s<]+)", page.text)
    return found.group(1) if found else None


def test_sign_in_with_the_code_flow_pkce_and_nonce(
    entra_center: AdminCenter, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _browser(entra_center) as browser:
        form = browser.get("/sign-in")
        assert 'href="/sign-in/entra?next=/"' in form.text  # the button beside the password

        page = browser.get("/sign-in/entra", params={"next": "/errors"})

        assert page.status_code == 200 and page.url.path == "/errors"  # back where asked
        assert _signed_in_as(browser) == "entra:ada@contoso.com"
        assert browser.get("/users", follow_redirects=False).status_code == 403  # operator
    (asked,) = provider.authorize_requests
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["nonce"] and asked["state"] and "openid" in asked["scope"].split()
    assert asked["redirect_uri"] == f"{entra_center.url}/sign-in/entra/callback"
    (redeemed,) = provider.token_requests
    assert len(redeemed["code_verifier"]) >= 43  # the provider checked it against S256
    users = UserStore(entra_center.service.access)
    assert users.get("entra:ada@contoso.com").role == "operator"
    actions = [(e.actor, e.action) for e in entra_center.service.access.audit_log()]
    assert ("entra", "user.add") in actions
    assert ("web:entra:ada@contoso.com", "user.sign-in") in actions
    # Neither the client secret nor the PKCE verifier is written to the log.
    assert CLIENT_SECRET not in caplog.text
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert basic not in caplog.text
    assert redeemed["code_verifier"] not in caplog.text


def test_a_group_gives_its_role_and_the_highest_role_wins(
    entra_center: AdminCenter, provider: Provider
) -> None:
    provider.user = {"preferred_username": "zoe@contoso.com", "groups": [ADMINS, "other"]}
    with _browser(entra_center) as browser:
        browser.get("/sign-in/entra")
        assert _signed_in_as(browser) == "entra:zoe@contoso.com"
        assert browser.get("/users", follow_redirects=False).status_code == 200  # admin


def test_someone_not_listed_is_refused_and_a_former_users_sessions_end(
    entra_center: AdminCenter, provider: Provider
) -> None:
    users = UserStore(entra_center.service.access)
    users.sign_in_entra("eve@contoso.com", "viewer")  # listed once, taken off since
    provider.user = {"preferred_username": "eve@contoso.com"}
    with _browser(entra_center) as browser:
        page = browser.get("/sign-in/entra")
        assert page.status_code == 403
        assert "eve@contoso.com may not sign in to this admin center" in page.text
        assert _signed_in_as(browser) is None
    assert users.find("entra:eve@contoso.com") is None


@pytest.mark.parametrize(
    "knob",
    [
        pytest.param({"sign_with": _key()}, id="forged signature"),
        pytest.param({"audience": "00000000-0000-4000-8000-000000000000"}, id="another audience"),
        pytest.param({"nonce": "a-nonce-of-another-sign-in"}, id="another nonce"),
    ],
)
def test_a_token_that_does_not_verify_signs_no_one_in(
    entra_center: AdminCenter, provider: Provider, knob: dict[str, Any]
) -> None:
    for name, value in knob.items():
        setattr(provider, name, value)
    with _browser(entra_center) as browser:
        page = browser.get("/sign-in/entra")
        assert page.status_code == 401
        assert "could not be verified" in page.text
        assert _signed_in_as(browser) is None
    assert UserStore(entra_center.service.access).find("entra:ada@contoso.com") is None


def test_a_callback_this_session_did_not_start_is_refused(entra_center: AdminCenter) -> None:
    with _browser(entra_center) as browser:
        page = browser.get("/sign-in/entra/callback", params={"code": "x", "state": "forged"})
        assert page.status_code == 401
        assert "Entra ID did not sign you in" in page.text
        assert _signed_in_as(browser) is None


def test_an_error_from_entra_id_is_shown(entra_center: AdminCenter) -> None:
    with _browser(entra_center) as browser:
        page = browser.get(
            "/sign-in/entra/callback",
            params={"error": "access_denied", "error_description": "The user cancelled."},
        )
        assert page.status_code == 401
        assert "Entra ID did not sign you in: The user cancelled." in page.text


def test_without_its_client_secret_the_service_does_not_start(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    root = make_workspace(tmp_path / "ws", contacts=2)
    _configure(root, provider)
    service = Service(root)
    try:
        with pytest.raises(ConfigError) as refused:
            mount_web(build_api(service), service)
    finally:
        service.close()
    assert SECRET_ENV in refused.value.message


def test_entra_names_and_passwords_stay_apart(entra_center: AdminCenter) -> None:
    users = UserStore(entra_center.service.access)
    with pytest.raises(ConfigError, match="Entra ID user's"):
        users.add("entra:mallory@contoso.com", "admin", "a-long-password", actor="test")
    users.sign_in_entra("ada@contoso.com", "operator")
    with pytest.raises(ConfigError, match="signs in with Microsoft Entra ID"):
        users.set_password("entra:ada@contoso.com", "a-long-password", actor="test")
    assert users.authenticate("entra:ada@contoso.com", "!entra") is None


def test_no_entra_button_without_entra_id(center: AdminCenter) -> None:
    with _browser(center) as browser:
        assert "Entra ID" not in browser.get("/sign-in").text
        assert browser.get("/sign-in/entra", follow_redirects=False).status_code == 404


def test_entra_sign_in_in_a_browser(
    entra_center: AdminCenter, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto(entra_center.url + "/projects")
    page.get_by_role("link", name="Sign in with Microsoft Entra ID").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    expect(page.locator("header")).to_contain_text("entra:ada@contoso.com")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"client_id": "my-app"}, "is not an application (client) id, a GUID"),
        ({"users": {}, "groups": {}}, "entra_id needs users or groups"),
        ({"users": {"ada@contoso.com": "owner"}}, "admin_center.entra_id.users"),
        ({"authority": "login.microsoftonline.com"}, "is not an http(s) URL"),
    ],
)
def test_p2c_yaml_names_a_wrong_entra_id_setting(
    tmp_path: Path, provider: Provider, change: dict[str, Any], words: str
) -> None:
    root = make_workspace(tmp_path / "ws", contacts=2)
    _configure(root, provider, **change)
    with pytest.raises(ConfigError) as refused:
        Workspace.open(root)
    text = str(refused.value) + (refused.value.fix or "")
    assert words in text, text
    assert "docs/operations.md" in text
