"""Every public operation of Microsoft's Dataverse SDK for Python, once, against the emulator:
each either works or gets the answer real Dataverse gives the emulator's application user.

The emulator's application user has data privileges and no customization privileges, so
every schema change (tables, columns, keys, relationships; a file upload to a column that
does not exist, which the SDK would create) is refused with 403 as Dataverse refuses it.
The operations test_official_sdk.py shows in depth (create/retrieve/update/delete, upsert,
*Multiple, $batch change sets, fetchXml, SQL, table metadata) are listed here once more so
that this table is the whole surface.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest
from azure.identity import ClientSecretCredential
from emulator_helpers import ACC, CON, KID
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models import col
from PowerPlatform.Dataverse.models.query_builder import ExpandOption

from p2c.emulator import DEFAULT_SECRET, RunningEmulator, serve

OK = 200
REFUSED = 403  # no customization privileges: Dataverse's answer to the application user
Operation = Callable[[DataverseClient], Any]


@pytest.fixture(scope="module")
def sdk(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataverseClient]:
    """The SDK signed in to an emulator of its own, shared by the module's operations."""
    root = Path(shutil.copytree(template, tmp_path_factory.mktemp("sdk") / "ws"))
    with serve(root) as running, pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_file))
        with DataverseClient(running.url("sales"), _credential(running)) as client:
            yield client


def _credential(running: RunningEmulator) -> ClientSecretCredential:
    return ClientSecretCredential(
        running.tenant,
        running.client_id,
        DEFAULT_SECRET,
        authority=running.base_url,
        disable_instance_discovery=True,
    )


def _new(client: DataverseClient, lastname: str) -> str:
    made = client.records.create("contact", {"lastname": lastname})
    assert isinstance(made, str)
    return made


def _batch_records(client: DataverseClient) -> Any:
    new_id = _new(client, "Batched")
    batch = client.batch.new()
    batch.records.create("contact", [{"lastname": "B1"}, {"lastname": "B2"}])
    batch.records.update("contact", new_id, {"jobtitle": "In batch"})
    batch.records.upsert(
        "contact",
        [
            {
                "alternate_key": {"msdynce_contactnumber": "CON-97000-ZZZZZZ"},
                "record": {"lastname": "U"},
            }
        ],
    )
    batch.records.retrieve("contact", CON, select=["lastname"])
    batch.records.list("contact", filter="lastname eq 'Lee'", select=["lastname"])
    batch.records.delete("contact", new_id)
    batch.query.sql("SELECT TOP 1 lastname FROM contact")
    result = batch.execute()
    assert not result.has_errors, [r.error_message for r in result.failed]
    return result


def _batch_dataframe(client: DataverseClient) -> Any:
    batch = client.batch.new()
    batch.dataframe.create("contact", pd.DataFrame([{"lastname": "Frame"}]))
    result = batch.execute()
    assert not result.has_errors, [r.error_message for r in result.failed]
    return result


def _batch_schema(client: DataverseClient) -> Any:
    batch = client.batch.new()
    batch.tables.add_columns("contact", {"new_Extra": "string"})
    result = batch.execute()
    assert [r.status_code for r in result.failed] == [REFUSED]
    return result


def _builder_all(client: DataverseClient) -> Any:
    parent = ExpandOption("parentcustomerid_account").select("name")
    assert parent.to_odata() == "parentcustomerid_account($select=name)"
    query = (
        client.query.builder("contact")
        .select("lastname", "_parentcustomerid_value")
        .where(col("lastname").startswith("L") & (col("statecode") == 0))
        .expand(parent)
        .order_by("lastname", descending=True)
        .top(5)
        .page_size(2)
        .count()
        .include_annotations("*")
    )
    assert query.build()["select"] == ["lastname", "_parentcustomerid_value"]
    pages = list(query.execute_pages())
    assert [r["parentcustomerid_account"]["name"] for p in pages for r in p] == ["Fabrikam"]
    frame = client.query.builder("contact").select("lastname").to_dataframe()
    assert len(frame) >= 3
    return pages


def _dataframe_writes(client: DataverseClient) -> Any:
    ids = client.dataframe.create("contact", pd.DataFrame([{"lastname": "F1"}, {"lastname": "F2"}]))
    frame = pd.DataFrame({"contactid": list(ids), "jobtitle": ["A", "B"]})
    client.dataframe.update("contact", frame, id_column="contactid")
    rows = client.dataframe.sql("SELECT lastname, jobtitle FROM contact WHERE jobtitle = 'A'")
    assert list(rows["lastname"]) == ["F1"]
    return client.dataframe.delete("contact", ids)


def _relationship_id(client: DataverseClient, schema_name: str) -> str:
    found = client.tables.get_relationship(schema_name)
    assert found is not None and found.relationship_id
    return str(found.relationship_id)


def _upload(client: DataverseClient, tmp: Path) -> Any:
    path = tmp / "note.txt"
    path.write_text("hello", encoding="utf-8")
    return client.files.upload("contact", CON, "new_Document", str(path))


SURFACE: dict[str, tuple[Operation, int]] = {
    # records
    "records.create": (lambda c: _new(c, "One"), OK),
    "records.create (CreateMultiple)": (
        lambda c: c.records.create("contact", [{"lastname": "M1"}, {"lastname": "M2"}]),
        OK,
    ),
    "records.retrieve": (lambda c: c.records.retrieve("contact", CON, select=["lastname"]), OK),
    "records.update": (lambda c: c.records.update("contact", KID, {"jobtitle": "X"}), OK),
    "records.update (UpdateMultiple)": (
        lambda c: c.records.update("contact", [CON, KID], {"department": "D"}),
        OK,
    ),
    "records.upsert": (
        lambda c: c.records.upsert(
            "contact",
            [
                {
                    "alternate_key": {"msdynce_contactnumber": "CON-98000-AAAAAA"},
                    "record": {"lastname": "Upserted"},
                }
            ],
        ),
        OK,
    ),
    "records.delete": (lambda c: c.records.delete("contact", _new(c, "Gone")), OK),
    "records.delete (BulkDelete)": (
        lambda c: c.records.delete("contact", [_new(c, "G1"), _new(c, "G2")]),
        OK,
    ),
    "records.list": (lambda c: c.records.list("contact", top=2), OK),
    "records.list_pages": (lambda c: list(c.records.list_pages("contact", page_size=2)), OK),
    "records.get (deprecated)": (lambda c: c.records.get("contact", CON), OK),
    # queries
    "query.builder (every clause)": (_builder_all, OK),
    "query.fetchxml": (
        lambda c: c.query.fetchxml(
            '<fetch top="2"><entity name="contact"><attribute name="lastname"/></entity></fetch>'
        ).execute(),
        OK,
    ),
    "query.sql": (lambda c: c.query.sql("SELECT lastname FROM contact ORDER BY lastname"), OK),
    "query.sql (outside the subset)": (
        lambda c: c.query.sql("SELECT lastname FROM contact GROUP BY lastname"),
        400,
    ),
    "query.sql_columns": (lambda c: c.query.sql_columns("contact"), OK),
    "query.odata_select": (lambda c: c.query.odata_select("contact"), OK),
    "query.odata_expands": (lambda c: c.query.odata_expands("contact"), OK),
    "query.odata_expand": (lambda c: c.query.odata_expand("contact", "account"), OK),
    "query.odata_bind": (lambda c: c.query.odata_bind("contact", "account", ACC), OK),
    # dataframes
    "dataframe.get": (lambda c: c.dataframe.get("contact", select=["lastname"]), OK),
    "dataframe.create/update/sql/delete": (_dataframe_writes, OK),
    # batch
    "batch (records, query)": (_batch_records, OK),
    "batch.dataframe": (_batch_dataframe, OK),
    "batch.tables (schema change)": (_batch_schema, OK),
    # table metadata
    "tables.get": (lambda c: c.tables.get("contact"), OK),
    "tables.list": (lambda c: c.tables.list(), OK),
    "tables.list_columns": (lambda c: c.tables.list_columns("contact"), OK),
    "tables.get_column": (lambda c: c.tables.get_column("contact", "lastname"), OK),
    "tables.get_alternate_keys": (lambda c: c.tables.get_alternate_keys("contact"), OK),
    "tables.list_relationships": (lambda c: c.tables.list_relationships(), OK),
    "tables.list_table_relationships": (
        lambda c: c.tables.list_table_relationships("contact"),
        OK,
    ),
    "tables.get_relationship": (
        lambda c: c.tables.get_relationship("contact_customer_accounts"),
        OK,
    ),
    # schema changes: refused for the application user
    "tables.create": (lambda c: c.tables.create("new_Thing", {"new_Size": "string"}), REFUSED),
    "tables.delete": (lambda c: c.tables.delete("contact"), REFUSED),
    "tables.add_columns": (lambda c: c.tables.add_columns("contact", {"new_X": "string"}), REFUSED),
    "tables.remove_columns": (lambda c: c.tables.remove_columns("contact", "jobtitle"), REFUSED),
    "tables.update_column": (
        lambda c: c.tables.update_column("contact", "jobtitle", {"max_length": 200}),
        REFUSED,
    ),
    "tables.update_columns": (
        lambda c: c.tables.update_columns("contact", {"jobtitle": {"max_length": 200}}),
        REFUSED,
    ),
    "tables.create_alternate_key": (
        lambda c: c.tables.create_alternate_key("contact", "new_Key", ["emailaddress1"]),
        REFUSED,
    ),
    "tables.delete_alternate_key": (
        lambda c: c.tables.delete_alternate_key(
            "contact", c.tables.get_alternate_keys("contact")[0].metadata_id
        ),
        REFUSED,
    ),
    "tables.create_lookup_field": (
        lambda c: c.tables.create_lookup_field("contact", "new_AccountRef", "account"),
        REFUSED,
    ),
    "tables.delete_relationship": (
        lambda c: c.tables.delete_relationship(_relationship_id(c, "contact_customer_accounts")),
        REFUSED,
    ),
    # client
    "client.flush_cache": (lambda c: c.flush_cache("picklist"), OK),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's older helpers, still public
@pytest.mark.parametrize("name", list(SURFACE))
def test_every_public_operation(sdk: DataverseClient, name: str, tmp_path: Path) -> None:
    operation, expected = SURFACE[name]
    if expected == OK:
        operation(sdk)
        return
    with pytest.raises(HttpError) as refused:
        operation(sdk)
    assert refused.value.status_code == expected, refused.value


def test_a_file_upload_to_a_new_column_is_refused(sdk: DataverseClient, tmp_path: Path) -> None:
    with pytest.raises(HttpError) as refused:
        _upload(sdk, tmp_path)
    assert refused.value.status_code == REFUSED
