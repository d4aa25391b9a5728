"""Row versions of the sandbox Sales: every write of a row, by any path, gives it a new
``versionnumber`` from one counter, as Dataverse's row version does."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from p2c import InputError
from p2c.sandbox import SalesSandbox

ACC = "11111111-1111-4111-8111-111111111111"
CON = "22222222-2222-4222-8222-222222222222"


def _version(sales: SalesSandbox, table: str, key: str, record_id: str) -> int:
    value = sales.store.scalar(f'SELECT versionnumber FROM "{table}" WHERE {key} = ?', (record_id,))
    assert isinstance(value, int)
    return value


def test_creates_and_updates_raise_the_version(sales: SalesSandbox) -> None:
    sales.load(
        {
            "accounts": [{"accountid": ACC, "name": "Fabrikam"}],
            "contacts": [{"contactid": CON, "lastname": "Lee"}],
        }
    )
    account = _version(sales, "account", "accountid", ACC)
    created = _version(sales, "contact", "contactid", CON)
    assert created != account  # one counter for the database
    sales.update("contacts", CON, {"jobtitle": "Buyer"})
    updated = _version(sales, "contact", "contactid", CON)
    assert updated > created
    # The Prospect-to-cash plug-in's own update (a quote makes its contact an active
    # customer) is a write of the contact too.
    sales.load({"quotes": [{"name": "Q", "customerid_contact@odata.bind": f"/contacts({CON})"}]})
    assert _version(sales, "contact", "contactid", CON) > updated
    assert _version(sales, "account", "accountid", ACC) == account  # untouched rows keep theirs


def test_the_version_is_not_written_by_a_client(sales: SalesSandbox) -> None:
    sales.load({"contacts": [{"contactid": CON, "lastname": "Lee"}]})
    with pytest.raises(InputError) as refused:
        sales.update("contacts", CON, {"versionnumber": 1})
    assert [p.field for p in refused.value.problems] == ["versionnumber"]


def test_a_file_made_before_row_versions_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "sales.db"
    sales = SalesSandbox(path, create=True)
    sales.initialize()
    sales.load({"contacts": [{"contactid": CON, "lastname": "Lee"}, {"lastname": "Berg"}]})
    sales.close()
    old = apsw.Connection(str(path))  # as a file from before: no column, no triggers
    for (name,) in list(old.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")):
        old.execute(f'DROP TRIGGER "{name}"')
    old.execute("ALTER TABLE contact DROP COLUMN versionnumber")
    old.close()
    sales = SalesSandbox(path)
    versions = [r[0] for r in sales.store.db.execute("SELECT versionnumber FROM contact")]
    assert None not in versions and len(set(versions)) == 2
    before = _version(sales, "contact", "contactid", CON)
    sales.update("contacts", CON, {"jobtitle": "Buyer"})
    assert _version(sales, "contact", "contactid", CON) > max(versions) >= before
    sales.close()


def _triggers(sales: SalesSandbox) -> list[tuple[str, str]]:
    listed = sales.store.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    return sorted((str(name), str(sql)) for name, sql in listed)


def test_a_load_numbers_its_rows_itself_and_leaves_the_triggers_as_they_were(
    sales: SalesSandbox,
) -> None:
    triggers = _triggers(sales)
    contacts = [
        {"contactid": f"22222222-2222-4222-8222-{n:012d}", "lastname": "L"} for n in range(5)
    ]
    sales.load({"contacts": contacts})
    before = {
        c["contactid"]: _version(sales, "contact", "contactid", c["contactid"]) for c in contacts
    }
    # Quotes make three of them active customers: the plug-in's bulk update numbers them.
    quoted = [c["contactid"] for c in contacts[:3]]
    sales.load(
        {
            "quotes": [
                {"name": "Q", "customerid_contact@odata.bind": f"/contacts({i})"} for i in quoted
            ]
        }
    )
    after = {i: _version(sales, "contact", "contactid", i) for i in before}
    assert len(set(after.values())) == len(after)
    assert all(after[i] > max(before.values()) for i in quoted)
    assert all(after[i] == before[i] for i in before if i not in quoted)
    assert _triggers(sales) == triggers
    # The triggers number what any other write changes, above every number given so far.
    sales.store.db.execute(
        "UPDATE contact SET jobtitle = 'Buyer' WHERE contactid = ?", (quoted[0],)
    )
    assert _version(sales, "contact", "contactid", quoted[0]) > max(after.values())
    # A load refused half-way leaves them too.
    with pytest.raises(InputError):
        sales.load({"contacts": [{"lastname": "M"}, {"contactid": quoted[1], "lastname": "Twice"}]})
    assert _triggers(sales) == triggers
