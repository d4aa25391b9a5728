"""``--layout ports``: each service at the root of a port of its own, as real environments
sit at a host root, while the token endpoint (and the path layout) stay on the main port."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from azure.identity import ClientSecretCredential
from emulator_helpers import CON, tls
from PowerPlatform.Dataverse.client import DataverseClient

from p2c import ConfigError
from p2c.emulator import DEFAULT_SECRET, EmulatorSettings, RunningEmulator, serve
from p2c.emulator._http import ApiError


@pytest.fixture
def at_ports(workspace: Path) -> Iterator[RunningEmulator]:
    with serve(workspace, EmulatorSettings(layout="ports")) as emulator:
        yield emulator


def _token(running: RunningEmulator, client: httpx.Client, service: str) -> str:
    answer = client.post(
        f"{running.base_url}/{running.tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": running.client_id,
            "client_secret": DEFAULT_SECRET,
            "scope": f"{running.url(service)}/.default",
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def test_each_service_is_at_the_root_of_its_own_port(at_ports: RunningEmulator) -> None:
    urls = {name: at_ports.url(name) for name in ("sales", "finops", "cds")}
    ports = {urlsplit(u).port for u in urls.values()} | {at_ports.port}
    assert len(ports) == 4 and all(urlsplit(u).path == "" for u in urls.values())
    assert at_ports.connection_set()["sales"]["url"] == urls["sales"]
    with httpx.Client(verify=tls(at_ports)) as client:
        auth = {"Authorization": f"Bearer {_token(at_ports, client, 'finops')}"}
        page = client.get(f"{urls['finops']}/data/CustomersV2", headers=auth).json()
        assert page["@odata.context"] == f"{urls['finops']}/data/$metadata#CustomersV2"
        sales = {"Authorization": f"Bearer {_token(at_ports, client, 'sales')}"}
        contacts = client.get(
            f"{urls['sales']}/api/data/v9.2/contacts",
            params={"$select": "lastname"},
            headers={**sales, "Prefer": "odata.maxpagesize=1"},
        ).json()
        link = contacts["@odata.nextLink"]
        assert link.startswith(f"{urls['sales']}/api/data/v9.2/contacts?")
        assert client.get(link, headers=sales).status_code == 200
        entities = client.get(f"{urls['finops']}/Metadata/PublicEntities", headers=auth)
        assert entities.status_code == 200, entities.text
        # A token for F&O is not one for the CDS hub, though both speak F&O OData.
        other = client.get(f"{urls['cds']}/data/", headers=auth)
        assert other.status_code == 401
        challenge = other.headers["WWW-Authenticate"]
        assert f"authorization_uri={at_ports.base_url}/{at_ports.tenant}/" in challenge
        assert f"resource_id={urls['cds']}/" in challenge
        # The main port keeps the path layout.
        assert client.get(f"{at_ports.base_url}/finops/data/", headers=auth).status_code == 200


def test_the_official_sdk_at_a_host_root(
    at_ports: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(at_ports.ca_file))
    credential = ClientSecretCredential(
        at_ports.tenant,
        at_ports.client_id,
        DEFAULT_SECRET,
        authority=at_ports.base_url,
        disable_instance_discovery=True,
    )
    with DataverseClient(at_ports.url("sales"), credential) as client:
        new_id = client.records.create("contact", {"lastname": "Root"})
        record = client.records.retrieve("contact", new_id, select=["msdynce_contactnumber"])
        assert record is not None and record["msdynce_contactnumber"].startswith("CON-")
        batch = client.batch.new()
        with batch.changeset() as change_set:
            change_set.records.update("contact", new_id, {"jobtitle": "At root"})
        batch.records.retrieve("contact", CON, select=["lastname"])
        assert not batch.execute().has_errors
        rows = client.query.sql(f"SELECT jobtitle FROM contact WHERE contactid = '{new_id}'")
        assert [r["jobtitle"] for r in rows] == ["At root"]
        pages = list(client.records.list_pages("contact", select=["lastname"], page_size=2))
        assert [len(p.records) for p in pages] == [2, 2]  # the seeded three and the new one


def test_a_port_in_use_is_named(workspace: Path) -> None:
    with serve(workspace, EmulatorSettings(layout="ports")) as first:
        taken = urlsplit(first.url("finops")).port
        assert taken is not None
        with (
            pytest.raises(ConfigError, match=r"Cannot listen on 127\.0\.0\.1:\d+"),
            serve(workspace, EmulatorSettings(layout="ports", port=taken - 2)),
        ):
            pass


def test_the_blob_folder_goes_with_the_emulator_however_it_stops(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    with serve(workspace) as first:
        assert first._packages is not None
        blobs = first._packages.blobs
        blobs.put("package.zip", b"PK")
        assert [p.name for p in blobs.folder.iterdir()] == ["package.zip"]
        with (
            pytest.raises(ConfigError, match="Cannot listen"),
            serve(workspace, EmulatorSettings(port=urlsplit(first.base_url).port or 0)),
        ):
            pass
        assert list(temporary.iterdir()) == [blobs.folder]  # the second left nothing
    assert list(temporary.iterdir()) == []
    with pytest.raises(ApiError, match="stopping"):  # a request still in flight after close
        blobs.put("late.zip", b"PK")
    assert list(temporary.iterdir()) == []


def test_a_start_refused_for_a_bad_certificate_leaves_no_thread(workspace: Path) -> None:
    folder = workspace / "emulator" / "app-certificates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="is not a PEM certificate"), serve(workspace):
        pass
    assert not [t for t in threading.enumerate() if t.name == "p2c-dmf"]
