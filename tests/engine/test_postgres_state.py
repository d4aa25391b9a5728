"""The state database on a real PostgreSQL server: history, errors, lineage and the
prerequisite check all come back from it, through the library and the command line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
import sqlalchemy as sa
from engine_postgres import PostgresServer, free_port
from engine_scenarios import (
    ACCOUNT,
    CUSTOMERS,
    PERSON,
    Scenario,
    as_version_2,
    check_migrated,
    run_p2c,
)

from p2c import ConfigError, ExitCode
from p2c.engine import QueuedRecord, StateStore

ATLANTIS = "f0000000-0000-4000-8000-000000000001"

REJECTED = {
    "contacts": [
        {
            "contactid": ATLANTIS,
            "firstname": "Atla",
            "lastname": "Ntis",
            "address1_country": "Atlantis",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        }
    ]
}


def test_state_on_postgresql(
    make_scenario: Callable[..., Scenario],
    postgres_server: PostgresServer,
    postgres_url: str,
) -> None:
    scenario = make_scenario(REJECTED)
    scenario.edit(lambda text: text.replace("url: sqlite:///state.db", f"url: {postgres_url}"))
    assert scenario.ws.state_url() == postgres_url

    first = scenario.run()
    second = scenario.run()

    assert first.exit_code == ExitCode.FAILED_RECORDS
    # The rejected record needs a fix, so it waits in the error queue instead of being
    # tried again: the second run reads nothing new and fails nothing.
    assert second.exit_code == ExitCode.OK
    assert second.run_id == first.run_id + 1
    sqlite = StateStore(f"sqlite:///{scenario.root / 'state.db'}")
    try:
        assert not sqlite.runs()  # nothing went to the workspace's SQLite state
    finally:
        sqlite.close()

    state = scenario.state()
    try:
        assert state.engine.dialect.name == "postgresql"
        runs = state.runs()
        assert [r.id for r in runs] == [second.run_id, first.run_id]
        assert [r.status for r in runs] == ["Completed", "Warning"]
        for run in runs:
            assert run.started_at.tzinfo is not None
            assert run.started_at.utcoffset() == UTC.utcoffset(None)
            assert run.finished_at >= run.started_at
        task_runs = state.task_runs(first.run_id)
        assert [(t.project, t.leg) for t in task_runs] == [(t.project, t.leg) for t in first.tasks]
        for stored, returned in zip(task_runs, first.tasks, strict=True):
            assert stored.status == returned.status
            assert (stored.read, stored.created, stored.failed) == (
                returned.counts.read,
                returned.counts.created,
                returned.counts.failed,
            )
        assert not state.errors(second.run_id)
        (queued,) = state.queue()
        assert (queued.first_run_id, queued.last_run_id, queued.attempts) == (first.run_id,) * 2 + (
            1,
        )
        assert not queued.retryable
        assert queued.leg.project == scenario.contacts_project
        rejected: list[sa.Row[Any] | QueuedRecord] = [*state.errors(first.run_id), queued]
        for error in rejected:
            assert error.field == "PrimaryAddressCountryRegionISOCode"
            assert "'Atlantis'" in error.message
            assert error.source_key.endswith(
                ATLANTIS if not scenario.via_cds else scenario.contact_number(ATLANTIS)
            )
        lineage = state.lineage()
        # Upserted on the lineage key: one row per record and leg, with the run that wrote it.
        legs = 2 if scenario.via_cds else 1
        assert len(lineage) == (1 + 1 + len(CUSTOMERS)) * legs + (1 if scenario.via_cds else 0)
        assert {r.run_id for r in lineage} == {first.run_id}
        final = {
            r.destination_key
            for r in lineage
            if r.destination_entity in ("CustomersV2", "CDSContactPersons")
        }
        assert f"usmf/{scenario.contact_number(PERSON)}/{scenario.account_number()}" in final
        assert state.last_status(scenario.accounts_project) == "Completed"
        # The latest run of the project had nothing to fail.
        assert state.last_status(scenario.contacts_project) == "Completed"
    finally:
        state.close()

    # The rows are really in PostgreSQL.
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.connect(database) as db:
        counted = db.execute(
            "SELECT (SELECT count(*) FROM run), (SELECT count(*) FROM record_error), "
            "(SELECT count(*) FROM error_queue), (SELECT count(*) FROM record_lineage)"
        ).fetchone()
    assert counted == (2, 1, 1, len(lineage))

    # The prerequisite check reads the Accounts project's last status from PostgreSQL.
    alone = scenario.run([scenario.customers_project])
    assert alone.exit_code == ExitCode.OK

    # And the command line shows the same history and errors.
    history = run_p2c("history", "--workspace", scenario.root)
    assert history.returncode == 0, history.stderr
    assert "Traceback" not in history.stderr
    assert scenario.contacts_project in history.stdout
    assert "Warning" in history.stdout
    errors = run_p2c("errors", first.run_id, "--workspace", scenario.root)
    assert errors.returncode == 0, errors.stderr
    assert "Atlantis" in errors.stdout
    assert "PrimaryAddressCountryRegionISOCode" in errors.stdout


def test_state_database_that_cannot_be_reached(scenario: Scenario) -> None:
    # Nothing listens on this loopback port; the password must never be shown.
    url = f"postgresql+psycopg://p2c:s3cret-pw@127.0.0.1:{free_port()}/p2c"
    scenario.edit(lambda text: text.replace("url: sqlite:///state.db", f"url: {url}"))

    with pytest.raises(ConfigError) as caught:
        scenario.run()
    assert "s3cret-pw" not in str(caught.value)
    assert "state.url" in str(caught.value)

    done = run_p2c("run", "--workspace", scenario.root)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "Traceback" not in done.stderr
    assert "Cannot open the state database" in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert not scenario.customers()  # nothing ran


def test_a_postgresql_state_of_schema_2_is_brought_up_to_date(
    scenario: Scenario, postgres_server: PostgresServer, postgres_url: str
) -> None:
    scenario.edit(lambda text: text.replace("url: sqlite:///state.db", f"url: {postgres_url}"))
    scenario.state().close()
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.connect(database) as db:
        as_version_2(db.execute)

    state = scenario.state()
    try:
        check_migrated(state)
    finally:
        state.close()
    assert scenario.run().status == "Completed"
    history = run_p2c("history", "--workspace", scenario.root)
    assert history.returncode == 0, history.stderr
    assert "has not been heard from" in history.stdout and "command" in history.stdout
