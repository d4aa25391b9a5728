"""The REST API over a real workspace: tokens and roles, runs started and read, keyset
pages, errors and retries, schedules, events, OpenAPI, metrics, and no secret shown."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from service_world import ACCOUNTS, CONTACTS, CUSTOMERS, World
from test_service import GatedRunner

from p2c.service import Service, build_api

BAD_GROUP = {"ContactToCustomer": {"map": {"CustomerGroupId": {"default": "99"}}}}


@dataclass
class Api:
    client: TestClient
    service: Service
    tokens: dict[str, str]

    def call(self, method: str, path: str, role: str = "viewer", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, role: str = "viewer", **kwargs: Any) -> Any:
        answer = self.call("GET", path, role, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def run(self, project: str, **body: Any) -> str:
        answer = self.call("POST", f"/api/v1/projects/{quote(project)}/runs", "operator", json=body)
        assert answer.status_code == 202, answer.text
        assert self.service.wait_idle(60)
        run_id = answer.json()["id"]
        assert isinstance(run_id, str)
        return run_id


def make_api(service: Service) -> Api:
    tokens = {
        role: service.access.create_token(role, role, actor="test")
        for role in ("viewer", "operator", "admin")
    }
    return Api(TestClient(build_api(service)), service, tokens)


@pytest.fixture
def api(world: World, make_service: Callable[..., Service]) -> Iterator[Api]:
    world.project(ACCOUNTS, schedule={"every": "15m"})
    made = make_api(make_service())
    with made.client:
        yield made


def test_healthz_is_open_and_the_api_needs_a_valid_token(api: Api) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    missing = api.client.get("/api/v1/projects")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.client.get("/api/v1/projects", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = api.client.get("/api/v1/projects", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    assert api.call("GET", "/api/v1/projects").status_code == 200
    api.service.access.revoke_token("viewer", actor="test")
    assert api.call("GET", "/api/v1/projects").status_code == 401


def test_a_role_too_low_is_refused(api: Api) -> None:
    path = f"/api/v1/projects/{quote(ACCOUNTS)}/runs"
    assert api.call("POST", path, "viewer").status_code == 403
    assert api.call("GET", "/api/v1/audit", "operator").status_code == 403
    assert api.call("GET", "/api/v1/audit", "admin").status_code == 200
    pause = f"/api/v1/projects/{quote(ACCOUNTS)}/schedule/pause"
    assert api.call("POST", pause, "viewer").status_code == 403


def test_a_run_started_through_the_api_is_read_back_with_who_started_it(api: Api) -> None:
    run_id = api.run(ACCOUNTS, full=True)
    assert run_id.isdigit()
    run = api.get(f"/api/v1/runs/{run_id}")
    assert run["status"] == "Completed"
    assert run["started_by"] == "api:operator"
    assert run["mode"] == "full"
    (task,) = run["tasks"]
    assert task["project"] == ACCOUNTS and task["task"] == "Accounts - Customers"
    assert task["counts"]["read"] == 4 and task["counts"]["created"] == 4
    assert run["counts"]["created"] == 4
    audit = api.get("/api/v1/audit", "admin")["entries"]
    assert {
        "actor": "api:operator",
        "action": "run.start",
        "target": ACCOUNTS,
    }.items() <= audit[0].items()
    assert audit[0]["detail"]["run_id"] == run_id
    assert api.call("GET", "/api/v1/runs/999").status_code == 404
    assert api.call("GET", "/api/v1/runs/abc").status_code == 404
    unknown = api.call("POST", "/api/v1/projects/nope/runs", "operator")
    assert unknown.status_code == 404


def test_a_dry_run_writes_nothing_and_is_read_by_its_own_id(api: Api, world: World) -> None:
    key = api.run(ACCOUNTS, dry_run=True)
    assert key == "dry-1"
    run = api.get(f"/api/v1/runs/{key}")
    assert run["dry_run"] and run["status"] == "Completed"
    assert run["counts"]["created"] == 4
    assert world.runs() == []


def test_a_run_of_a_running_project_is_refused(
    world: World, make_service: Callable[..., Service]
) -> None:
    runner = GatedRunner(world.root)
    api = make_api(make_service(runner=runner))
    path = f"/api/v1/projects/{quote(ACCOUNTS)}/runs"
    with api.client:
        first = api.call("POST", path, "operator", json={})
        assert first.status_code == 202
        second = api.call("POST", path, "operator", json={})
        assert second.status_code == 409
        assert "is running" in second.json()["detail"]
        runner.gate.set()
        assert api.service.wait_idle(60)


def test_runs_are_listed_newest_first_a_keyset_page_at_a_time(api: Api, world: World) -> None:
    world.project(CUSTOMERS, tasks=BAD_GROUP)
    ids = [api.run(ACCOUNTS), api.run(CONTACTS), api.run(CUSTOMERS), api.run(ACCOUNTS)]
    page = api.get("/api/v1/runs", params={"limit": 3})
    assert [r["id"] for r in page["runs"]] == [int(i) for i in reversed(ids)][:3]
    assert page["next"] is not None and "before=" in page["next"]
    rest = api.client.get(page["next"], headers={"Authorization": f"Bearer {api.tokens['viewer']}"})
    assert [r["id"] for r in rest.json()["runs"]] == [int(ids[0])]
    assert rest.json()["next"] is None
    accounts = api.get("/api/v1/runs", params={"project": ACCOUNTS})["runs"]
    assert [r["id"] for r in accounts] == [int(ids[3]), int(ids[0])]
    errors = api.get("/api/v1/runs", params={"status": "Error"})["runs"]
    assert [r["id"] for r in errors] == [int(ids[2])]
    assert errors[0]["counts"]["failed"] > 0
    assert api.call("GET", "/api/v1/runs", params={"limit": 0}).status_code == 422


def test_errors_of_a_run_the_queue_and_a_retry_after_the_fix(api: Api, world: World) -> None:
    api.run(ACCOUNTS)
    world.project(CUSTOMERS, tasks=BAD_GROUP)
    run_id = api.run(CUSTOMERS)
    errors = api.get(f"/api/v1/runs/{run_id}/errors")["errors"]
    assert errors and all(e["field"] == "CustomerGroupId" for e in errors)
    assert {"record", "reason", "destination_key"} <= set(errors[0])
    queue = api.get("/api/v1/errors")
    assert queue["total"] == len(errors)
    nothing = api.call("POST", "/api/v1/errors/retry", "operator", json={"records": ["none"]})
    assert nothing.status_code == 404
    both = api.call(
        "POST", "/api/v1/errors/retry", "operator", json={"records": ["a"], "all": True}
    )
    assert both.status_code == 422
    world.project(CUSTOMERS, tasks={})  # fixed
    one = errors[0]["record"]
    answer = api.call("POST", "/api/v1/errors/retry", "operator", json={"records": [one]})
    assert answer.status_code == 202
    assert api.service.wait_idle(60)
    assert api.get("/api/v1/errors")["total"] == len(errors) - 1
    retried = api.get(f"/api/v1/runs/{answer.json()['id']}")
    assert retried["mode"] == "retry" and retried["counts"]["created"] == 1
    answer = api.call("POST", "/api/v1/errors/retry", "operator", json={"all": True})
    assert answer.status_code == 202
    assert api.service.wait_idle(60)
    assert api.get("/api/v1/errors")["total"] == 0
    actions = [e["action"] for e in api.get("/api/v1/audit", "admin")["entries"]]
    assert actions.count("errors.retry") == 2


def test_schedules_are_paused_and_resumed_through_the_api(api: Api) -> None:
    base = f"/api/v1/projects/{quote(ACCOUNTS)}/schedule"
    paused = api.call("POST", f"{base}/pause", "operator", json={"reason": "F&O upgrade"})
    assert paused.status_code == 200
    assert paused.json()["schedule"]["paused"] is True
    assert paused.json()["schedule"]["paused_reason"] == "F&O upgrade"
    project = api.get(f"/api/v1/projects/{quote(ACCOUNTS)}")
    assert project["schedule"]["paused_by"] == "api:operator"
    assert project["schedule"]["next_run"] is None
    resumed = api.call("POST", f"{base}/resume", "operator")
    assert resumed.json()["schedule"]["paused"] is False
    assert resumed.json()["schedule"]["next_run"] is not None
    other = f"/api/v1/projects/{quote(CONTACTS)}/schedule/pause"
    assert api.call("POST", other, "operator").status_code == 400
    actions = [e["action"] for e in api.get("/api/v1/audit", "admin")["entries"]]
    assert actions[:2] == ["schedule.resume", "schedule.pause"]


def test_a_runs_progress_comes_as_server_sent_events(api: Api) -> None:
    run_id = api.run(ACCOUNTS)
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = "".join(answer.iter_text())
    kinds = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    assert kinds[0] == "task" and kinds[-1] == "end"
    assert "progress" in kinds and "task-end" in kinds
    last = json.loads(text.strip().splitlines()[-1].removeprefix("data: "))
    assert last["status"] == "Completed"


def test_projects_show_schedules_and_never_a_secret(
    world: World, make_service: Callable[..., Service]
) -> None:
    world.project(
        ACCOUNTS,
        schedule={"cron": "0 */2 * * *", "timezone": "Europe/Oslo"},
        notify={
            "on": ["error"],
            "email": ["ops@contoso.com"],
            "webhook": "https://hooks.example/p2c/T0KEN-SECRET",
        },
    )
    world.edit(
        lambda d: d.update(
            notifications={
                "smtp": {
                    "host": "127.0.0.1",
                    "port": 2525,
                    "username": "p2c",
                    "password_env": "P2C_SMTP_PASSWORD",
                    "sender": "p2c@contoso.com",
                },
                "link": "https://p2c.contoso.com",
            }
        )
    )
    service = make_service(environ={"P2C_SMTP_PASSWORD": "hunter2-SECRET"})
    api = make_api(service)
    with api.client:
        projects = api.get("/api/v1/projects")["projects"]
        accounts = next(p for p in projects if p["name"] == ACCOUNTS)
        assert accounts["schedule"]["describe"] == "cron 0 */2 * * * (Europe/Oslo)"
        assert accounts["notify"]["webhook"] == "https://hooks.example/…"
        shown = [
            json.dumps(projects),
            json.dumps(api.get(f"/api/v1/projects/{quote(ACCOUNTS)}")),
            api.client.get("/metrics").text,
            json.dumps(api.get("/api/v1/openapi.json")),
            json.dumps(api.get("/api/v1/audit", "admin")),
        ]
    for text in shown:
        assert "SECRET" not in text
        for token in api.tokens.values():
            assert token not in text


def test_openapi_and_metrics(api: Api) -> None:
    api.run(ACCOUNTS)
    spec = api.client.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/v1/projects",
        "/api/v1/projects/{name}",
        "/api/v1/projects/{name}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/errors",
        "/api/v1/runs/{run_id}/events",
        "/api/v1/errors",
        "/api/v1/errors/retry",
        "/api/v1/projects/{name}/schedule/pause",
        "/api/v1/projects/{name}/schedule/resume",
    } <= paths
    text = api.client.get("/metrics").text
    names = {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert all(name.startswith("p2c_") for name in names)
    assert f'p2c_runs_total{{project="{ACCOUNTS}",status="Completed"}} 1.0' in text
    assert 'route="/api/v1/projects/{name}/runs"' in text
    assert 'p2c_schedule_paused{project="' in text
    assert "p2c_error_queue_records 0.0" in text
