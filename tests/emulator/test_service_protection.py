"""Service protection: requests per window and concurrent requests answered 429 with
Retry-After and the Dataverse codes, per service; seeded faults; counters."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from emulator_helpers import Api, tls

from p2c.emulator import EmulatorSettings, serve


def test_the_request_after_the_limit_is_throttled(workspace: Path) -> None:
    settings = EmulatorSettings(requests_per_window=3, window_seconds=120, dop_hint=6)
    with serve(workspace, settings) as running:
        api = Api(running)
        answers = [api.get("sales", "contacts", params={"$top": "1"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        remaining = [a.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] for a in answers]
        assert remaining == ["2", "1", "0"]
        assert {a.headers["x-ms-dop-hint"] for a in answers} == {"6"}
        throttled = api.get("sales", "contacts", params={"$top": "1"})
        assert throttled.status_code == 429
        # The first of the three requests leaves the 120 s window in about 120 s.
        assert 100 <= int(throttled.headers["Retry-After"]) <= 120
        assert throttled.json()["error"] == {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 3 over time window of 120 "
            "seconds.",
        }
        # Each service has its own limit; F&O answers in its own words.
        fo = [api.get("finops", "LegalEntities").status_code for _ in range(4)]
        assert fo == [200, 200, 200, 429]
        fo_throttled = api.get("finops", "LegalEntities")
        assert fo_throttled.json()["error"]["message"] == "Too many requests"
        assert "Retry-After" in fo_throttled.headers
        stats = running.stats
        assert stats.services["sales"].requests == 4 and stats.services["sales"].throttled == 1
        assert stats.services["finops"].throttled == 2
        assert stats.throttled == 3 and stats.operations == 6
        api.close()


def test_a_batch_counts_as_one_request(workspace: Path) -> None:
    with serve(workspace, EmulatorSettings(requests_per_window=2, window_seconds=120)) as running:
        api = Api(running)
        answers = api.batch("sales", [("GET", "contacts?$top=1", None)] * 20)
        assert len(answers) == 20
        assert api.get("sales", "WhoAmI").status_code == 200
        assert api.get("sales", "WhoAmI").status_code == 429
        assert running.stats.operations == 21
        api.close()


def test_concurrent_requests_over_the_limit_are_throttled(workspace: Path) -> None:
    settings = EmulatorSettings(max_concurrent=1, latency_ms=800)
    with serve(workspace, settings) as running:
        api = Api(running)
        token = api.token("sales")
        start = threading.Barrier(3)
        statuses: list[int] = []
        bodies: list[dict[str, object]] = []

        def call() -> None:
            with httpx.Client(verify=tls(running)) as client:
                start.wait()
                answer = client.get(
                    api.url("sales", "WhoAmI"), headers={"Authorization": f"Bearer {token}"}
                )
                statuses.append(answer.status_code)
                if answer.status_code == 429:
                    bodies.append(answer.json()["error"])

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses)[0] == 200 and 429 in statuses
        assert bodies[0]["code"] == "0x80072326"
        assert bodies[0]["message"] == "Number of concurrent requests exceeded the limit of 1."
        api.close()


def _fault_run(workspace: Path) -> tuple[list[int], int, list[dict[str, object]]]:
    with serve(workspace, EmulatorSettings(fault_rate=0.3, fault_seed=11)) as running:
        api = Api(running)
        statuses, bodies = [], []
        for _ in range(40):
            answer = api.get("finops", "LegalEntities")
            statuses.append(answer.status_code)
            if answer.status_code >= 500:
                bodies.append(answer.json()["error"])
                assert answer.status_code == 500 or answer.headers["Retry-After"] == "1"
        faults = running.stats.faults
        api.close()
    return statuses, faults, bodies


def test_faults_are_seeded_and_counted(workspace: Path) -> None:
    statuses, faults, bodies = _fault_run(workspace)
    assert {s for s in statuses if s != 200} <= {500, 503} and 0 < faults < 40
    assert faults == sum(1 for s in statuses if s != 200)
    assert all(b["message"] for b in bodies)
    again, _, _ = _fault_run(workspace)
    assert again == statuses
