"""SQL queries on the Dataverse face (``GET contacts?sql=SELECT …``): the documented subset
answers rows, everything else is a 400 that says what was refused."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import ACC, CON, KID, Api


def _rows(api: Api, sql: str, path: str = "contacts") -> list[dict[str, Any]]:
    answer = api.get("sales", path, params={"sql": sql})
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["value"]
    return rows


def test_select_columns_with_aliases_where_order_and_top(reader: Api) -> None:
    rows = _rows(
        reader,
        "SELECT TOP 2 c.lastname AS [Last name], firstname FROM contact c "
        "WHERE c.lastname <> 'Solo' OR firstname = 'Cy' ORDER BY lastname DESC",
    )
    assert rows == [
        {"Last name": "Solo", "firstname": "Cy"},
        {"Last name": "Lee", "firstname": "Ann"},
    ]


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("lastname = 'lee'", ["Lee"]),  # case-insensitive, as SQL Server's collation
        ("lastname LIKE 'b%'", ["Berg"]),
        ("lastname LIKE '%o'", ["Solo"]),
        ("lastname LIKE '%e%'", ["Berg", "Lee"]),
        ("lastname NOT LIKE '%e%'", ["Solo"]),
        (f"contactid IN ('{CON}', '{KID}')", ["Berg", "Lee"]),
        (f"contactid NOT IN ('{CON}', '{KID}')", ["Solo"]),
        ("emailaddress1 IS NULL", ["Berg", "Solo"]),
        ("emailaddress1 IS NOT NULL", ["Lee"]),
        (f"parentcustomerid = '{ACC}'", ["Lee"]),
        ("lastname BETWEEN 'B' AND 'M'", ["Berg", "Lee"]),
        ("(lastname = 'Lee' OR lastname = 'Berg') AND NOT firstname = 'Bo'", ["Lee"]),
        ("'Lee' = lastname", ["Lee"]),
        ("createdon > '2000-01-01T00:00:00Z' AND donotemail = 0", ["Berg", "Lee", "Solo"]),
    ],
)
def test_where_conditions(reader: Api, where: str, names: list[str]) -> None:
    rows = _rows(reader, f"SELECT lastname FROM contact WHERE {where} ORDER BY lastname")
    assert [r["lastname"] for r in rows] == names


def test_lookups_answer_the_id_and_yes_no_columns_true_or_false(reader: Api) -> None:
    rows = _rows(
        reader,
        f"SELECT parentcustomerid, donotemail FROM contact WHERE contactid = '{CON}'",
    )
    assert rows == [{"parentcustomerid": ACC, "donotemail": False}]


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("SELECT * FROM contact", "SELECT *"),
        ("SELECT COUNT(*) FROM contact", "not a column"),
        ("SELECT UPPER(lastname) FROM contact", "not a column"),
        ("SELECT DISTINCT lastname FROM contact", "DISTINCT"),
        ("SELECT lastname FROM contact GROUP BY lastname", "GROUP BY"),
        (
            "SELECT c.lastname FROM contact c JOIN account a ON a.accountid = c.parentcustomerid",
            "JOIN",
        ),
        (
            "SELECT lastname FROM contact ORDER BY lastname OFFSET 1 ROWS FETCH NEXT 1 ROWS ONLY",
            "OFFSET",
        ),
        ("SELECT lastname FROM contact WHERE lastname = firstname", "not a constant"),
        ("SELECT lastname FROM contact WHERE LEN(lastname) > 2", "is not a column"),
        ("SELECT lastname FROM contact WHERE lastname", "not supported"),
        (
            "SELECT lastname FROM contact WHERE contactid IN (SELECT contactid FROM contact)",
            "Subqueries",
        ),
        ("SELECT lastname FROM contact WHERE lastname LIKE 'L_e'", "LIKE"),
        ("SELECT nosuchcolumn FROM contact", "Invalid column name 'nosuchcolumn'"),
        ("SELECT name FROM account", "the request is for contacts"),
        ("SELECT TOP 5001 lastname FROM contact", "at most 5,000"),
        ("SELECT lastname FROM contact; SELECT lastname FROM contact", "exactly one"),
        ("DELETE FROM contact", "Only SELECT"),
        ("SELECT lastname FROM", "not valid"),
        ("SELECT lastname FROM contact WHERE createdon > 'soon'", "Conversion failed"),
    ],
)
def test_what_sql_refuses(reader: Api, sql: str, said: str) -> None:
    answer = reader.get("sales", "contacts", params={"sql": sql})
    assert answer.status_code == 400, answer.text
    assert said in answer.json()["error"]["message"]


def test_sql_with_another_query_option_is_refused(reader: Api) -> None:
    answer = reader.get(
        "sales", "contacts", params={"sql": "SELECT lastname FROM contact", "$top": "1"}
    )
    assert answer.status_code == 400
    assert "$top cannot be used with sql" in answer.json()["error"]["message"]


def test_a_quote_in_a_value_is_a_value(reader: Api) -> None:
    assert _rows(reader, "SELECT lastname FROM contact WHERE lastname = 'x'' OR 1=1 --'") == []
    answer = reader.get(
        "sales", "contacts", params={"sql": "SELECT lastname FROM contact WHERE 1 = 1"}
    )
    assert answer.status_code == 400  # a constant compared with a constant is no condition
