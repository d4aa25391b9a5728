"""Microsoft's Dataverse SDK for Python (``powerplatform-dataverse-client``), unchanged and
through its public API only, against the emulator.

The SDK signs in with azure-identity's ClientSecretCredential pointed at the emulator's
token endpoint and trusts the emulator's certificate through ``REQUESTS_CA_BUNDLE``. Every
operation of its public surface either works, or gets the answer real Dataverse gives the
emulator's application user (no customization privileges: 403), or is refused with 400 where
the emulator does not do what Dataverse does (SQL outside the documented subset).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from emulator_helpers import ACC, CON, KID, SOLO
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models import QueryBuilder, QueryResult, UpsertItem, col

from p2c.emulator import DEFAULT_SECRET, RunningEmulator

FORMATTED = "@OData.Community.Display.V1.FormattedValue"


@pytest.fixture
def client(running: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataverseClient]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_file))
    credential = ClientSecretCredential(
        running.tenant,
        running.client_id,
        DEFAULT_SECRET,
        authority=running.base_url,
        disable_instance_discovery=True,
    )
    with DataverseClient(running.url("sales"), credential) as dataverse:
        yield dataverse


def _all(query: QueryBuilder) -> QueryResult:
    """``execute()``: without the deprecated ``by_page`` it answers one QueryResult, all pages
    collected; the SDK's annotation also names the page iterator ``by_page=True`` gives."""
    result = query.execute()
    assert isinstance(result, QueryResult)
    return result


def _names(records: Any) -> list[str]:
    return [r["lastname"] for r in records]


# records ------------------------------------------------------------------------------------


def test_create_retrieve_update_delete(client: DataverseClient) -> None:
    new_id = client.records.create(
        "contact",
        {
            "firstname": "Dee",
            "lastname": "Dahl",
            "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
        },
    )
    record = client.records.retrieve(
        "contact",
        new_id,
        select=["firstname", "msdynce_contactnumber", "msdynce_iscompanyanaccount"],
        expand=["parentcustomerid_account($select=name)"],
    )
    assert record is not None
    assert record["firstname"] == "Dee"
    assert record["msdynce_contactnumber"].startswith("CON-")  # the P2C plug-in numbered it
    assert record["msdynce_iscompanyanaccount"] is True
    assert record["parentcustomerid_account"]["name"] == "Fabrikam"
    assert record.etag and record.etag.startswith('W/"')

    client.records.update("contact", new_id, {"jobtitle": "Buyer"})
    updated = client.records.retrieve("contact", new_id, select=["jobtitle"])
    assert updated is not None and updated["jobtitle"] == "Buyer"
    assert updated.etag != record.etag

    client.records.delete("contact", new_id)
    assert client.records.retrieve("contact", new_id) is None
    with pytest.raises(HttpError) as refused:  # If-Match: * updates only
        client.records.update("contact", new_id, {"jobtitle": "Gone"})
    assert refused.value.status_code == 404


def test_picklist_labels_are_turned_into_values_from_the_option_set_metadata(
    client: DataverseClient,
) -> None:
    new_id = client.records.create("contact", {"lastname": "Lund", "gendercode": "Female"})
    record = client.records.retrieve(
        "contact", new_id, select=["gendercode"], include_annotations="*"
    )
    assert record is not None
    assert record["gendercode"] == 2
    assert record["gendercode" + FORMATTED] == "Female"


def test_list_with_filter_order_top_paging_and_count(client: DataverseClient) -> None:
    ids = client.records.create(
        "contact", [{"firstname": f"P{i}", "lastname": f"Page{i:02d}"} for i in range(12)]
    )
    assert len(ids) == 12
    pages = list(
        client.records.list_pages(
            "contact",
            filter="startswith(lastname,'Page')",
            select=["lastname"],
            orderby=["lastname desc"],
            page_size=5,
        )
    )
    assert [len(p.records) for p in pages] == [5, 5, 2]
    assert _names(r for p in pages for r in p.records) == [
        f"Page{i:02d}" for i in range(11, -1, -1)
    ]
    top = client.records.list("contact", filter="startswith(lastname,'page')", top=3)
    assert len(top.records) == 3  # Dataverse compares text case-insensitively
    counted = client.query.builder("contact").where(col("lastname") == "lee").count().execute()
    assert _names(counted) == ["Lee"]


def test_query_builder_with_in_between_and_formatted_values(client: DataverseClient) -> None:
    result = _all(
        client.query.builder("contact")
        .select("lastname", "donotemail", "_parentcustomerid_value")
        .where(col("contactid").in_([CON, KID]))
        .order_by("lastname")
        .include_formatted_values()
    )
    records = list(result)
    assert _names(records) == ["Berg", "Lee"]
    lee = records[1]
    assert lee["donotemail" + FORMATTED] == "Allow"
    assert lee["_parentcustomerid_value" + FORMATTED] == "Fabrikam"
    assert "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname" not in lee
    outside = _all(client.query.builder("contact").where(col("contactid").not_in([CON, KID])))
    assert SOLO in [r["contactid"] for r in outside]
    created = client.query.builder("contact").where(
        col("createdon").between("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z")
    )
    assert len(list(created.execute())) == 3


def test_upsert_by_the_contact_number_and_upsert_multiple(client: DataverseClient) -> None:
    client.records.upsert(
        "contact",
        [UpsertItem({"msdynce_contactnumber": "CON-90000-AAAAAA"}, {"lastname": "Ahl"})],
    )
    client.records.upsert(
        "contact",
        [UpsertItem({"msdynce_contactnumber": "CON-90000-AAAAAA"}, {"firstname": "Ada"})],
    )
    client.records.upsert(
        "contact",
        [
            {
                "alternate_key": {"msdynce_contactnumber": "CON-90000-AAAAAA"},
                "record": {"jobtitle": "CEO"},
            },
            {
                "alternate_key": {"msdynce_contactnumber": "CON-90001-BBBBBB"},
                "record": {"lastname": "Bo"},
            },
        ],
    )
    found = client.records.list(
        "contact",
        filter="startswith(msdynce_contactnumber,'CON-9000')",
        select=["firstname", "lastname", "jobtitle", "msdynce_contactnumber"],
        orderby=["msdynce_contactnumber"],
    )
    rows = [(r["firstname"], r["lastname"], r["jobtitle"]) for r in found]
    assert rows == [("Ada", "Ahl", "CEO"), (None, "Bo", None)]


def test_update_multiple_and_a_bad_item_fails_the_whole_request(client: DataverseClient) -> None:
    client.records.update("contact", [CON, KID], {"department": "Sales"})
    both = client.records.list("contact", filter="department eq 'Sales'")
    assert sorted(_names(both)) == ["Berg", "Lee"]
    with pytest.raises(HttpError) as refused:
        client.records.create("contact", [{"lastname": "Ok"}, {"lastname": "x" * 51}])
    assert refused.value.status_code == 400
    assert "[1]" in str(refused.value) or "lastname" in str(refused.value)
    assert client.records.list("contact", filter="lastname eq 'Ok'").records == []


def test_bulk_delete(client: DataverseClient) -> None:
    ids = client.records.create("contact", [{"lastname": "Tmp1"}, {"lastname": "Tmp2"}])
    job = client.records.delete("contact", ids)
    assert job
    assert client.records.list("contact", filter="startswith(lastname,'Tmp')").records == []


# batch -----------------------------------------------------------------------------------------


def test_batch_with_a_change_set(client: DataverseClient) -> None:
    batch = client.batch.new()
    batch.records.create("contact", {"lastname": "Batch1"})
    with batch.changeset() as change_set:
        ref = change_set.records.create("contact", {"lastname": "Batch2"})
        change_set.records.update("contact", ref, {"jobtitle": "Linked"})
    batch.records.retrieve("contact", CON, select=["lastname"])
    result = batch.execute()
    assert not result.has_errors, [r.error_message for r in result.failed]
    made = client.records.list(
        "contact", filter="startswith(lastname,'Batch')", orderby=["lastname"]
    )
    assert [(r["lastname"], r["jobtitle"]) for r in made] == [
        ("Batch1", None),
        ("Batch2", "Linked"),
    ]
    batch = client.batch.new()
    with batch.changeset() as change_set:
        change_set.records.delete("contact", SOLO)
    assert not batch.execute().has_errors
    assert client.records.retrieve("contact", SOLO) is None


# queries ---------------------------------------------------------------------------------------


def test_fetchxml_with_link_entity_order_and_paging(client: DataverseClient) -> None:
    client.records.create("contact", [{"lastname": f"Fx{i}"} for i in range(7)])
    xml = (
        '<fetch count="3">'
        '<entity name="contact"><attribute name="lastname"/>'
        '<filter><condition attribute="lastname" operator="like" value="fx%"/></filter>'
        '<order attribute="lastname" descending="true"/>'
        "</entity></fetch>"
    )
    pages = list(client.query.fetchxml(xml).execute_pages())
    assert [len(p.records) for p in pages] == [3, 3, 1]
    assert [r["lastname"] for p in pages for r in p.records] == [f"Fx{i}" for i in range(6, -1, -1)]
    linked = (
        '<fetch><entity name="contact"><attribute name="lastname"/>'
        '<link-entity name="account" from="accountid" to="parentcustomerid" alias="a">'
        '<attribute name="name"/></link-entity></entity></fetch>'
    )
    rows = list(client.query.fetchxml(linked).execute())
    assert [(r["lastname"], r["a.name"]) for r in rows] == [("Lee", "Fabrikam")]


def test_sql_in_the_documented_subset(client: DataverseClient) -> None:
    rows = client.query.sql(
        "SELECT TOP 2 lastname, firstname FROM contact WHERE lastname <> 'Berg' ORDER BY lastname"
    )
    assert [(r["lastname"], r["firstname"]) for r in rows] == [("Lee", "Ann"), ("Solo", "Cy")]
    with pytest.raises(HttpError) as refused:  # past the SDK's own checks, refused by the server
        client.query.sql("SELECT lastname FROM contact WHERE lastname = firstname")
    assert refused.value.status_code == 400


# tables ----------------------------------------------------------------------------------------


def test_table_metadata(client: DataverseClient) -> None:
    info = client.tables.get("contact")
    assert info is not None
    assert (info.entity_set_name, info.primary_id_attribute) == ("contacts", "contactid")
    tables = client.tables.list()
    assert {"contact", "account"} <= {t["LogicalName"] for t in tables}
    columns = client.tables.list_columns("contact", select=["LogicalName", "AttributeType"])
    kinds = {c["LogicalName"]: c["AttributeType"] for c in columns}
    assert kinds["parentcustomerid"] == "Customer"
    assert kinds["gendercode"] == "Picklist"
    keys = client.tables.get_alternate_keys("contact")
    assert [k.key_attributes for k in keys] == [["msdynce_contactnumber"]]
    column = client.tables.get_column("contact", "lastname")
    assert column is not None
    relationships = client.tables.list_table_relationships("contact")
    assert "contact_customer_accounts" in {r["SchemaName"] for r in relationships}
    assert client.tables.get_relationship("contact_customer_accounts") is not None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's older helpers, still public
def test_typed_columns_and_metadata_helpers(client: DataverseClient) -> None:
    typed = client.tables.list_columns("contact", typed=True)
    lastname = {c["LogicalName"]: c for c in typed}["lastname"]
    assert lastname["MaxLength"] == 50
    column = client.tables.get_column("contact", "gendercode", typed=True)
    assert column is not None and column["AttributeType"] == "Picklist"
    expands = client.query.odata_expands("contact")
    assert "parentcustomerid_account" in {e["nav_property"] for e in expands}
    bind = client.query.odata_bind("contact", "account", ACC)
    assert bind == {"parentcustomerid_account@odata.bind": f"/accounts({ACC})"}
    assert "lastname" in client.query.odata_select("contact")
    assert "lastname" in {c["name"] for c in client.query.sql_columns("contact")}
    frame = client.dataframe.get("contact", select=["lastname"], filter="lastname eq 'Lee'")
    assert list(frame["lastname"]) == ["Lee"]


def test_customizing_the_schema_is_refused_for_the_application_user(
    client: DataverseClient,
) -> None:
    with pytest.raises(HttpError) as refused:
        client.tables.create("new_Thing", {"new_Size": "string"})
    assert refused.value.status_code == 403
    for customize in (
        lambda: client.tables.add_columns("contact", {"new_Extra": "string"}),
        lambda: client.tables.create_alternate_key("contact", "new_Key", ["emailaddress1"]),
        lambda: client.tables.remove_columns("contact", "emailaddress1"),
        lambda: client.tables.delete("contact"),
    ):
        with pytest.raises(HttpError) as refused:
            customize()
        assert refused.value.status_code == 403


def test_deprecated_get_still_works(client: DataverseClient) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        record = client.records.get("contact", CON, select=["lastname"])
    assert record["lastname"] == "Lee"
