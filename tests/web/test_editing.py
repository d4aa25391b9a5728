"""The editing pages in-process (no browser): each edit's diff before saving, the checks of
p2c.yaml refusing with their message and writing nothing, a save only of the text shown and
onto the file it was shown from, admins only, and the audit log."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import quote

from web_client import Web
from web_world import ACCOUNTS, CONTACTS, CUSTOMERS

from p2c.workspace import CONFIG_FILE, Workspace

PROJECT = f"/projects/{quote(CUSTOMERS, safe='')}"
SITE = {
    "op": "map",
    "form": "field-form",
    "task": "ContactToCustomer",
    "leg": "Source > Destination",
    "field": "SiteId",
    "kind": "default",
    "default": "1",
}


def _config(web: Web) -> str:
    return (web.service.ws.root / CONFIG_FILE).read_text(encoding="utf-8")


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return unescape(found.group(1))


def _preview(web: Web, path: str, form: dict[str, Any]) -> str:
    answer = web.post(f"{path}/preview", form, headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def _save(web: Web, path: str, form: dict[str, Any]) -> Any:
    """Show the change, then save it with the digests the diff came with."""
    shown = _preview(web, path, form)
    digests = {"digest": _hidden(shown, "digest"), "proposal": _hidden(shown, "proposal")}
    return web.post(path, {**form, **digests})


def test_a_mapping_edit_shows_its_diff_then_saves(web: Web) -> None:
    web.sign_in("alice")
    before = _config(web)
    shown = _preview(web, f"{PROJECT}/edit", SITE)
    assert (
        "+        SiteId: {default: &#34;1&#34;}" in shown
        or '+        SiteId: {default: "1"}' in unescape(shown)
    )
    assert ">Save</button>" in shown
    assert _config(web) == before  # showing writes nothing
    answer = _save(web, f"{PROJECT}/edit", SITE)
    assert answer.status_code == 303 and answer.headers["location"] == PROJECT
    assert 'SiteId: {default: "1"}' in _config(web)
    # The service reads the saved file at once: the project page shows the change.
    page = web.client.get(PROJECT).text
    assert "Saved p2c.yaml" in page
    assert re.search(r"<code>SiteId</code> <small>\(changed in this project\)</small>", page)
    entry = web.service.access.audit_log(1)[0]
    assert (entry.actor, entry.action, entry.target) == ("web:alice", "config.edit", "p2c.yaml")
    assert "map SiteId" in entry.detail["summary"]


def test_a_refused_edit_shows_the_problem_and_writes_nothing(web: Web) -> None:
    web.sign_in("alice")
    before = _config(web)
    wrong = {
        **SITE,
        "field": "PersonGender",
        "kind": "value_map",
        "source": "gendercode",
        "default": "",
        "map_key": ["1"],
        "map_value": ["Robot"],
    }
    shown = unescape(_preview(web, f"{PROJECT}/edit", wrong))
    assert "Not saved: the checks of p2c.yaml refuse this change" in shown
    assert "key projects.2.tasks.ContactToCustomer.map.PersonGender.value_map.1" in shown
    assert "'Robot'" in shown
    assert ">Save</button>" not in shown
    # Posted anyway (with any digests): refused, nothing written.
    answer = web.post(f"{PROJECT}/edit", {**wrong, "digest": "x", "proposal": "y"})
    assert answer.status_code in (400, 409)
    assert _config(web) == before


def test_a_file_changed_since_the_diff_is_not_overwritten(web: Web) -> None:
    web.sign_in("alice")
    shown = _preview(web, f"{PROJECT}/edit", SITE)
    digests = {"digest": _hidden(shown, "digest"), "proposal": _hidden(shown, "proposal")}
    path = web.service.ws.root / CONFIG_FILE
    theirs = path.read_text(encoding="utf-8") + "# someone was here\n"
    path.write_text(theirs, encoding="utf-8")
    answer = web.post(f"{PROJECT}/edit", {**SITE, **digests})
    assert answer.status_code == 409
    assert "changed since the edit was shown" in unescape(answer.text)
    assert path.read_text(encoding="utf-8") == theirs


def test_a_save_without_a_shown_diff_asks_first(web: Web) -> None:
    web.sign_in("alice")
    before = _config(web)
    answer = web.post(f"{PROJECT}/edit", SITE)  # no JavaScript: no preview was asked for
    assert answer.status_code == 200
    assert "Save the change?" in answer.text and ">Save</button>" in answer.text
    assert _config(web) == before
    # Its form carries the edit: saving it from there writes it.
    form = dict(SITE)
    digests = {
        "digest": _hidden(answer.text, "digest"),
        "proposal": _hidden(answer.text, "proposal"),
    }
    assert web.post(f"{PROJECT}/edit", {**form, **digests}).status_code == 303


def test_saving_goes_back_only_to_a_page_of_this_site(web: Web) -> None:
    web.sign_in("alice")
    for site, elsewhere in (("2", "https://example.com/"), ("3", "//example.com/")):
        answer = _save(web, f"{PROJECT}/edit", {**SITE, "default": site, "next": elsewhere})
        assert answer.status_code == 303 and answer.headers["location"] == PROJECT
    unnamed = {"op": "new", "name": " ", "template": CONTACTS, "connection_set": "sandbox"}
    assert "needs a name" in _preview(web, "/projects/new", unnamed)


def test_only_an_admin_edits(web: Web) -> None:
    for name in ("victor", "olivia"):
        web.client.cookies.clear()
        web.sign_in(name)
        page = web.client.get(PROJECT).text
        assert "Edit mapping of" not in page and "Save as template" not in page
        for path in (f"{PROJECT}/edit", f"{PROJECT}/edit/preview", "/projects/new"):
            assert web.post(path, SITE).status_code == 403
        assert web.client.get(f"{PROJECT}/tasks/ContactToCustomer/mapping").status_code == 403
    web.client.cookies.clear()
    web.sign_in("alice")
    page = web.client.get(PROJECT).text
    assert 'aria-label="Edit mapping of PersonGender"' in page and "Save as template" in page


def test_the_mapping_editor_opens_a_field_with_its_value_map(web: Web) -> None:
    web.sign_in("alice")
    page = web.client.get(
        f"{PROJECT}/tasks/ContactToCustomer/mapping?field=AddressCountryRegionISOCode"
    ).text
    assert 'value="Sweden" aria-label="Source value' in page
    assert 'value="SWE" aria-label="Destination value' in page
    assert 'id="kind-value_map" name="kind" value="value_map" checked' in page
    fragment = web.client.get(
        f"{PROJECT}/tasks/ContactToCustomer/mapping/field?field=PersonGender",
        headers={"HX-Request": "true"},
    ).text
    assert "<html" not in fragment and "Mapping of PersonGender" in fragment
    assert web.client.get(f"{PROJECT}/tasks/Nope/mapping").status_code == 404


def test_new_project_filter_schedule_and_save_as_template(web: Web) -> None:
    web.sign_in("alice")
    assert "New project" in web.client.get("/projects").text
    assert "Contoso Sales → usmf" in web.client.get("/projects/new").text
    new = {
        "op": "new",
        "name": "Contoso contacts",
        "template": CONTACTS,
        "connection_set": "sandbox",
        "business_unit": "Contoso Sales",
    }
    answer = _save(web, "/projects/new", new)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/projects/{quote('Contoso contacts', safe='')}"
    assert Workspace.open(web.service.ws.root).project("Contoso contacts").business_unit
    accounts = f"/projects/{quote(ACCOUNTS, safe='')}"
    narrow = {
        "op": "filter",
        "task": "Accounts - Customers",
        "leg": "Source > Destination",
        "filter": "address1_country ne 'Norway'",
    }
    assert _save(web, f"{accounts}/edit", narrow).status_code == 303
    schedule = {
        "op": "schedule",
        "recurrence": "cron",
        "cron": "0 6 * * 1-5",
        "timezone": "Europe/Oslo",
        "email": "ops@example.com\nit@example.com",
        "on": ["error"],
    }
    assert _save(web, f"{accounts}/edit", schedule).status_code == 303
    bad = {**schedule, "email": "not-an-address"}
    assert "is not an e-mail address" in unescape(_preview(web, f"{accounts}/edit", bad))
    template = {"op": "template", "template_name": "Accounts without Norway"}
    assert _save(web, f"{accounts}/edit", template).status_code == 303
    ws = Workspace.open(web.service.ws.root)
    project = ws.project(ACCOUNTS)
    assert project.schedule is not None and project.schedule.cron == "0 6 * * 1-5"
    assert project.notify is not None and project.notify.email == [
        "ops@example.com",
        "it@example.com",
    ]
    saved = ws.templates.get("Accounts without Norway")
    assert saved.tasks[0].legs[0].source.filter == "address1_country ne 'Norway'"
    actions = [
        e.detail["summary"] for e in web.service.access.audit_log(10) if e.action == "config.edit"
    ]
    assert len(actions) == 4
