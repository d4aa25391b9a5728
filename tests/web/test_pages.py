"""The admin center's pages in-process: what each shows after real runs, the users page
and audit for an admin, Test connection, history pages, the chart, lineage."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import quote

from web_client import Web
from web_world import ACCOUNTS, CONTACTS, CUSTOMERS, PASSWORD, edit_project

from p2c.service import RunRequest
from p2c.web import UserStore


def _run(web: Web, *projects: str) -> str:
    job = web.service.submit(RunRequest(projects or (ACCOUNTS, CONTACTS, CUSTOMERS), "test"))
    assert web.service.wait_idle(60)
    assert job.key is not None
    return job.key


def _bad_group(web: Web) -> None:
    """Every customer is refused: customer group 99 does not exist in F&O."""
    group = {"ContactToCustomer": {"map": {"CustomerGroupId": {"default": "99"}}}}
    edit_project(web.service.ws.root, CUSTOMERS, tasks=group)


NEW = "e0000000-0000-4000-8000-0000000000cc"


def test_the_dashboard_shows_each_project_its_counts_and_the_chart(web: Web) -> None:
    run_id = _run(web)
    web.sign_in("victor")
    page = web.client.get("/").text
    for project in (ACCOUNTS, CONTACTS, CUSTOMERS):
        row = re.search(rf'<tr data-project="{re.escape(project)}">(.*?)</tr>', page, re.S)
        assert row, project
        assert 'class="status green">Completed' in row.group(1)
        assert f'href="/runs/{run_id}"' in row.group(1)
    assert "<svg" in page and "Records written and failed per day" in page
    today = datetime.now(UTC)
    written = sum(
        t["counts"]["created"] + t["counts"]["updated"]
        for t in web.service.history.run(int(run_id))["tasks"]  # type: ignore[index]
    )
    assert f"{today:%b %d}: {written} written, 0 failed" in page
    assert "Run all projects" not in page  # a viewer
    # The error queue card: its size and a whole sentence under it.
    assert re.search(
        r'<a href="/errors"[^>]*>0</a></p>\s*<p id="queue-says">failed records wait: every '
        r"record that failed has been written since.</p>",
        page,
    )


def test_a_failed_record_on_the_run_page_and_its_retry(web: Web) -> None:
    _run(web)
    _bad_group(web)
    # A new customer too (the changed mapping reads every customer again).
    sales = web.service.ws.sales()
    try:
        sales.load(
            {
                "contacts": [{"contactid": NEW, "firstname": "Cy", "lastname": "New"}],
                "invoices": [{"name": "I", "customerid_contact@odata.bind": f"/contacts({NEW})"}],
            }
        )
    finally:
        sales.close()
    run_id = _run(web, CUSTOMERS)
    web.sign_in("olivia")
    page = web.client.get(f"/runs/{run_id}").text
    assert "The value &#39;99&#39; in field &#39;Customer group&#39;" in page
    assert "Cy New" in page  # the record's name
    assert f'name="records" value="{NEW}"' in page
    dashboard = web.client.get("/").text
    row = re.search(rf'<tr data-project="{re.escape(CUSTOMERS)}">(.*?)</tr>', dashboard, re.S)
    assert row and 'class="status red">Error' in row.group(1)
    assert "failed records wait to be written: their reasons and fixes are in the queue." in (
        dashboard
    )
    assert web.client.get(f"/errors?project={quote(CUSTOMERS)}").text.count('name="records"') == 3

    answer = web.post(f"/runs/{run_id}/retry", {"records": NEW})
    assert answer.status_code == 303
    retry_key = answer.headers["location"].rsplit("/", 1)[1]
    assert web.service.wait_idle(60)
    assert retry_key != run_id
    retried = web.client.get(f"/runs/{retry_key}").text
    assert "web:olivia" in retried
    assert web.service.history.run(int(retry_key))["mode"] == "retry"  # type: ignore[index]
    (entry,) = [e for e in web.service.access.audit_log() if e.action == "errors.retry"]
    assert entry.actor == "web:olivia" and entry.detail["records"] == 1


def _fixes(page: str) -> list[str]:
    return [
        html.unescape(f) for f in re.findall(r'<td data-label="Fix" class="fix">(.*?)</td>', page)
    ]


def test_each_failed_record_has_a_concrete_fix_until_it_is_written(web: Web) -> None:
    _run(web)
    _bad_group(web)
    run_id = _run(web, CUSTOMERS)
    web.sign_in("olivia")
    fix = (
        "The project's default for CustomerGroupId is '99', which F&O's Customer groups lacks "
        "for company usmf: change the default in the mapping editor to one that exists, or "
        "create '99' in F&O's Customer groups (company usmf); then Retry selected."
    )
    assert _fixes(web.client.get(f"/runs/{run_id}").text) == [fix, fix]
    assert _fixes(web.client.get("/errors").text) == [fix, fix]
    assert "2 failed records wait to be written: fix their causes, then retry them." in (
        web.client.get("/errors").text
    )

    # The cause fixed (the default back to 10) and every record retried: nothing to do.
    edit_project(web.service.ws.root, CUSTOMERS, tasks={})
    web.service.reload()
    answer = web.post(f"/runs/{run_id}/retry", {"all": "true"})
    assert answer.status_code == 303
    assert web.service.wait_idle(60)
    written = "Nothing: the record has been written since."
    assert _fixes(web.client.get(f"/runs/{run_id}").text) == [written, written]
    queue = web.client.get("/errors").text
    assert _fixes(queue) == []
    assert "No failed record waits: every record that failed has been written since." in queue


def test_retry_without_a_selection_says_what_to_do(web: Web) -> None:
    web.sign_in("olivia")
    answer = web.post("/errors/retry", {})
    assert answer.status_code == 303
    assert "Select the records to retry first" in web.client.get("/errors").text


def test_history_is_paged_and_names_who_started_each_run(web: Web) -> None:
    for _ in range(3):
        _run(web, ACCOUNTS)
    web.service.submit(RunRequest((ACCOUNTS,), "web:someone"))
    assert web.service.wait_idle(60)
    web.sign_in("victor")
    from p2c.web import _project

    size = _project.HISTORY_PAGE
    _project.HISTORY_PAGE = 2
    try:
        first = web.client.get(f"/projects/{quote(ACCOUNTS)}/history").text
        assert first.count('<td data-label="Run">') == 2
        assert "web:someone" in first
        older = re.search(r'href="([^"]+/history\?before=\d+)"', first)
        assert older
        second = web.client.get(older.group(1)).text
        assert second.count('<td data-label="Run">') == 2
        assert "Older runs" not in second
    finally:
        _project.HISTORY_PAGE = size


def test_an_admin_manages_users_and_every_change_is_audited(web: Web) -> None:
    web.sign_in("alice")
    assert (
        web.post("/users", {"name": "dave", "role": "operator", "password": PASSWORD}).status_code
        == 303
    )
    assert "Added user dave (operator)." in web.client.get("/users").text
    short = web.post("/users", {"name": "erin", "role": "viewer", "password": "short"})
    assert short.status_code == 303
    assert "at least 10 are needed" in web.client.get("/users").text
    web.post("/users/dave/role", {"role": "viewer"})
    web.post("/users/dave/password", {"password": "yet-another-password"})
    web.post("/users/dave/remove")
    refused = web.post("/users/alice/remove")
    assert refused.status_code == 303
    assert "You cannot remove yourself." in web.client.get("/users").text
    audit = web.client.get("/audit").text
    for action in ("user.add", "user.set-role", "user.set-password", "user.remove"):
        assert action in audit
    assert audit.count("web:alice") >= 4
    users: UserStore = web.client.app.state.web_users  # type: ignore[attr-defined]
    assert users.find("dave") is None and users.find("erin") is None


def test_test_connection_explains_as_the_command_does(web: Web) -> None:
    web.sign_in("olivia")
    answer = web.client.post(
        "/connections/sandbox/test",
        headers={"X-CSRF-Token": web.token(), "HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert answer.text.count("<strong>ok</strong>") == 3  # Sales, F&O, organizations
    assert "every business unit and legal entity exists" in answer.text
    page = web.client.get("/connections").text
    assert "sandbox" in page and "Test connection" in page


def test_no_secret_is_shown_for_a_connection(web: Web) -> None:
    config = web.service.ws.root / "p2c.yaml"
    text = config.read_text(encoding="utf-8")
    extra = (
        "  remote:\n"
        "    sales:\n"
        "      type: dataverse\n      url: https://contoso.crm.dynamics.com\n"
        "      tenant: contoso.onmicrosoft.com\n"
        "      client_id: 00000000-0000-0000-0000-000000000001\n"
        "      client_secret_env: SALES_SECRET\n"
        "    finops:\n"
        "      type: sandbox\n      path: sandbox/finops.db\n"
        "    organizations:\n    - {business_unit: x, legal_entity: usmf}\n"
    )
    config.write_text(text.replace("connection_sets:\n", "connection_sets:\n" + extra, 1), "utf-8")
    from web_client import make_web

    fresh = make_web(web.service.ws.root)
    try:
        fresh.sign_in("victor")
        page = fresh.client.get("/connections").text
        assert "environment variable SALES_SECRET (its value is not shown)" in page
    finally:
        fresh.service.close()


def test_templates_and_lineage(web: Web) -> None:
    _run(web)
    web.sign_in("victor")
    page = web.client.get("/templates").text
    assert "Contacts to Customer (Sales to Fin and Ops) - Direct" in page
    assert "built-in" in page
    with web.service.store.engine.connect() as db:
        key = db.exec_driver_sql("SELECT source_key FROM record_lineage LIMIT 1").scalar()
    lineage = web.client.get(f"/lineage?key={key}").text
    assert re.search(r"usmf/(ACC|CON)-\d{5}", lineage)
    assert "No destination holds" in web.client.get("/lineage?key=nope").text


def test_pause_and_resume_from_the_scheduling_tab(web: Web) -> None:
    edit_project(web.service.ws.root, ACCOUNTS, schedule={"every": "15m"})
    web.service.step()  # the service reads p2c.yaml again
    web.sign_in("olivia")
    base = f"/projects/{quote(ACCOUNTS)}"
    assert (
        "every 15m" in web.client.get(f"{base}/scheduling").text
        or "15" in web.client.get(f"{base}/scheduling").text
    )
    web.post(f"{base}/pause", {"reason": "maintenance"})
    paused = web.client.get(f"{base}/scheduling").text
    assert "paused" in paused and "maintenance" in paused
    assert web.service.store.schedules()[ACCOUNTS].paused
    web.post(f"{base}/resume")
    assert not web.service.store.schedules()[ACCOUNTS].paused
    actions = [e.action for e in web.service.access.audit_log() if e.actor == "web:olivia"]
    assert actions == ["schedule.resume", "schedule.pause"]
