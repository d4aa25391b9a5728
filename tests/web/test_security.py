"""Sessions, CSRF and roles of the admin center, in-process (no browser)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from web_client import Web, csrf_of
from web_world import ACCOUNTS, PASSWORD

PAGES = ["/", "/projects", f"/projects/{quote(ACCOUNTS)}", "/connections", "/templates", "/errors"]


@pytest.mark.parametrize("path", [*PAGES, "/users", "/audit", "/runs/1"])
def test_every_page_without_a_session_redirects_to_sign_in(web: Web, path: str) -> None:
    answer = web.client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sign-in?next={quote(unquote(path), safe='')}"


def test_an_htmx_request_without_a_session_is_sent_to_sign_in(web: Web) -> None:
    answer = web.client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"].startswith("/sign-in")


def test_sign_in_sets_a_signed_http_only_same_site_cookie(web: Web) -> None:
    answer = web.sign_in("victor")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("p2c_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()
    assert PASSWORD not in cookie
    assert web.client.get("/").status_code == 200
    # A cookie changed by hand is not a session.
    value = web.client.cookies["p2c_session"]
    web.client.cookies.set("p2c_session", "x" + value[1:])
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_when_served_over_tls(tmp_path: object) -> None:
    from pathlib import Path

    from web_client import make_web
    from web_world import make_workspace

    assert isinstance(tmp_path, Path)
    web = make_web(make_workspace(tmp_path / "ws"), secure_cookies=True)
    try:
        answer = web.sign_in("victor")
        assert "secure" in answer.headers["set-cookie"].lower()
    finally:
        web.service.close()


def test_sign_in_goes_back_only_to_a_page_of_this_site(web: Web) -> None:
    form = web.client.get("/sign-in?next=/errors")
    for target, expected in (
        ("/errors", "/errors"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        web.client.cookies.clear()
        form = web.client.get("/sign-in")
        answer = web.client.post(
            "/sign-in",
            data={
                "name": "victor",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_of(form.text),
            },
            follow_redirects=False,
        )
        assert answer.headers["location"] == expected


def test_a_form_post_without_its_csrf_token_is_refused(web: Web) -> None:
    web.sign_in("olivia")
    path = f"/projects/{quote(ACCOUNTS)}/run"
    without = web.client.post(path, data={}, follow_redirects=False)
    assert without.status_code == 403
    assert "security token" in without.text
    wrong = web.client.post(path, data={"csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    header = web.client.post(path, headers={"X-CSRF-Token": web.token()}, follow_redirects=False)
    assert header.status_code == 303  # accepted: the run started
    assert web.service.wait_idle(60)
    assert [e.action for e in web.service.access.audit_log()][:1] == ["run.start"]


def test_sign_in_itself_needs_the_csrf_token(web: Web) -> None:
    web.client.get("/sign-in")
    answer = web.client.post(
        "/sign-in", data={"name": "alice", "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_a_viewer_reads_but_cannot_run_retry_pause_or_manage_users(web: Web) -> None:
    web.sign_in("victor")
    for path in PAGES:
        assert web.client.get(path).status_code == 200, path
    page = web.client.get(f"/projects/{quote(ACCOUNTS)}").text
    assert "Run now" not in page and "Dry run" not in page
    for path in (
        f"/projects/{quote(ACCOUNTS)}/run",
        f"/projects/{quote(ACCOUNTS)}/pause",
        "/runs/1/retry",
        "/errors/retry",
        "/connections/sandbox/test",
        "/users",
    ):
        answer = web.post(path, {"name": "x", "role": "admin", "password": "p" * 12})
        assert answer.status_code == 403, path
    assert web.client.get("/users").status_code == 403
    assert web.client.get("/audit").status_code == 403
    assert [e for e in web.service.access.audit_log() if e.actor != "test"] == []
    assert web.service.history.runs().runs == []


def test_an_operator_runs_but_does_not_manage_users(web: Web) -> None:
    web.sign_in("olivia")
    assert "Run now" in web.client.get(f"/projects/{quote(ACCOUNTS)}").text
    assert web.client.get("/users").status_code == 403
    assert (
        web.post("/users", {"name": "x", "role": "admin", "password": "p" * 12}).status_code == 403
    )
    assert [e for e in web.service.access.audit_log() if e.actor != "test"] == []


def test_changing_a_password_or_role_ends_that_users_sessions(web: Web) -> None:
    web.sign_in("victor")
    assert web.client.get("/", follow_redirects=False).status_code == 200
    users = web.client.app.state.web_users  # type: ignore[attr-defined]
    users.set_password("victor", "another-long-password", actor="test")
    assert web.client.get("/", follow_redirects=False).status_code == 303
    web.sign_in("victor", "another-long-password")
    users.set_role("victor", "operator", actor="test")
    assert web.client.get("/", follow_redirects=False).status_code == 303
    web.sign_in("victor", "another-long-password")
    users.remove("victor", actor="test")
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(web: Web) -> None:
    web.sign_in("alice")
    assert web.post("/sign-out").headers["location"] == "/sign-in"
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_is_throttled_after_repeated_failures(web: Web) -> None:
    for _ in range(5):
        assert web.sign_in("alice", "wrong-password").status_code == 401
    refused = web.sign_in("alice", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text
    assert (
        web.client.cookies.get("p2c_session") is None
        or web.client.get("/", follow_redirects=False).status_code == 303
    )
    # Another name from the same address is held too: the address has failed five times.
    assert web.sign_in("victor", PASSWORD).status_code == 429
    actions = [e.action for e in web.service.access.audit_log()]
    assert "user.sign-in-throttled" in actions


def test_the_api_still_answers_json_and_needs_its_token(web: Web) -> None:
    assert web.client.get("/healthz").json()["status"] == "ok"
    assert web.client.get("/api/v1/projects").status_code == 401
    web.sign_in("alice")
    # A session is no API token.
    assert web.client.get("/api/v1/projects").status_code == 401
    token = web.service.access.create_token("t", "viewer", actor="test")
    answer = web.client.get("/api/v1/projects/nope", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404 and answer.json()["detail"].startswith("p2c.yaml has no")
    assert web.client.get("/projects/nope").status_code == 404
