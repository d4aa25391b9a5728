"""Dataverse queries on the emulator beyond the basic query options: annotations (formatted
values, lookup annotations), query functions, case-insensitive text, FetchXML, $apply, and
the refusal of what the emulator does not evaluate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emulator_helpers import ACC, CON, KID, SOLO, Api

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
ALL = {"Prefer": 'odata.include-annotations="*"'}


def _values(api: Api, path: str, headers: dict[str, str] | None = None, /, **params: str) -> Any:
    answer = api.get("sales", path, params=params, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def test_formatted_values_and_lookup_annotations(reader: Api) -> None:
    answer = reader.get("sales", f"contacts({CON})", headers=ALL)
    assert answer.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    [ann] = _values(
        reader,
        "contacts",
        ALL,
        **{
            "$select": "lastname,statecode,donotemail,_parentcustomerid_value,createdon",
            "$filter": f"contactid eq {CON}",
        },
    )
    assert ann[f"statecode{FORMATTED}"] == "Active"
    assert ann[f"donotemail{FORMATTED}"] == "Allow"
    assert ann[f"_parentcustomerid_value{FORMATTED}"] == "Fabrikam"
    lookup = "_parentcustomerid_value@Microsoft.Dynamics.CRM."
    assert ann[lookup + "lookuplogicalname"] == "account"
    assert ann[lookup + "associatednavigationproperty"] == "parentcustomerid_account"
    assert ann[f"createdon{FORMATTED}"].endswith(("AM", "PM"))
    assert "lastname" + FORMATTED not in ann  # text has no formatted value
    only_formatted = {
        "Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
    }
    [plain] = _values(
        reader,
        "contacts",
        only_formatted,
        **{"$select": "_parentcustomerid_value", "$filter": f"contactid eq {CON}"},
    )
    assert set(plain) == {
        "@odata.etag",
        "_parentcustomerid_value",
        f"_parentcustomerid_value{FORMATTED}",
        "contactid",
    }
    [kid] = _values(
        reader,
        "contacts",
        ALL,
        **{"$select": "_parentcustomerid_value", "$filter": f"contactid eq {KID}"},
    )
    assert kid[f"_parentcustomerid_value{FORMATTED}"] == "Ann Lee"  # a contact's full name


def test_query_functions_and_case_insensitive_text(reader: Api) -> None:
    names = [
        r["lastname"]
        for r in _values(
            reader,
            "contacts",
            **{
                "$filter": "Microsoft.Dynamics.CRM.In(PropertyName='contactid',"
                f'PropertyValues=["{CON}","{SOLO}"])',
                "$orderby": "lastname",
            },
        )
    ]
    assert names == ["Lee", "Solo"]
    others = _values(
        reader,
        "contacts",
        **{
            "$filter": "Microsoft.Dynamics.CRM.NotIn(PropertyName='lastname',"
            'PropertyValues=["LEE","solo"])'
        },
    )
    assert [r["lastname"] for r in others] == ["Berg"]
    today = datetime.now(UTC).date().isoformat()
    for function in (
        "Microsoft.Dynamics.CRM.Today(PropertyName='createdon')",
        "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=2)",
        f"Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='{today}')",
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'createdon\',PropertyValues=["2000-01-01T00:00:00Z","2999-01-01T00:00:00Z"])',
    ):
        assert len(_values(reader, "contacts", **{"$filter": function})) == 3, function
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    on = f"Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='{tomorrow}')"
    assert _values(reader, "contacts", **{"$filter": on}) == []
    assert [
        r["lastname"] for r in _values(reader, "contacts", **{"$filter": "lastname eq 'LEE'"})
    ] == ["Lee"]


def test_fetchxml(reader: Api) -> None:
    xml = (
        '<fetch returntotalrecordcount="true" count="2"><entity name="contact">'
        '<attribute name="lastname"/><attribute name="parentcustomerid"/>'
        '<filter type="or"><condition attribute="lastname" operator="in"><value>Lee</value>'
        "<value>Berg</value></condition>"
        '<condition attribute="firstname" operator="begins-with" value="c"/>'
        '</filter><order attribute="lastname"/></entity></fetch>'
    )
    headers = {"Prefer": 'odata.include-annotations="*"'}
    body = reader.get("sales", "contacts", params={"fetchXml": xml}, headers=headers).json()
    assert [r["lastname"] for r in body["value"]] == ["Berg", "Lee"]
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == 3
    assert body["@Microsoft.Dynamics.CRM.morerecords"] is True
    assert "pagingcookie" in body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
    assert body["value"][1]["_parentcustomerid_value"] == ACC
    second = xml.replace('count="2"', 'count="2" page="2"')
    rest = reader.get("sales", "contacts", params={"fetchXml": second}, headers=headers).json()
    assert [r["lastname"] for r in rest["value"]] == ["Solo"]
    assert rest["@Microsoft.Dynamics.CRM.morerecords"] is False


def test_apply_aggregates_and_groups(reader: Api) -> None:
    [total] = _values(reader, "contacts", **{"$apply": "aggregate($count as total)"})
    assert total == {"total": 3}
    groups = _values(
        reader,
        "contacts",
        **{
            "$apply": "filter(statecode eq 0)/"
            "groupby((msdynce_iscompanyanaccount),aggregate($count as n))"
        },
    )
    assert groups == [
        {"msdynce_iscompanyanaccount": False, "n": 2},
        {"msdynce_iscompanyanaccount": True, "n": 1},
    ]


_LIKE_INSIDE = (
    '<fetch><entity name="contact"><filter>'
    '<condition attribute="lastname" operator="like" value="L%e%"/></filter></entity></fetch>'
)


@pytest.mark.parametrize(
    "params",
    [
        {"$search": "Lee"},
        {"$skip": "1"},
        {"sql": "SELECT lastname FROM contact GROUP BY lastname"},
        {"savedQuery": "00000000-0000-0000-0000-000000000001"},
        {"$filter": "Microsoft.Dynamics.CRM.ThisFiscalYear(PropertyName='createdon')"},
        {"$apply": "compute(1 as one)"},
        {"$apply": "aggregate($count as n)", "$top": "1"},
        {"fetchXml": '<fetch aggregate="true"><entity name="contact"/></fetch>'},
        {"fetchXml": _LIKE_INSIDE},
        {"fetchXml": '<fetch><entity name="account"/></fetch>'},
        {"fetchXml": "<fetch"},
    ],
)
def test_what_a_query_refuses(reader: Api, params: dict[str, str]) -> None:
    answer = reader.get("sales", "contacts", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"]
