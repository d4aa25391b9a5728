"""``$batch`` on both faces: requests and change sets, atomic change sets, stopping at the
first failure unless continue-on-error, Content-ID references, the 1000-request limit."""

from __future__ import annotations

from emulator_helpers import ACC, CON, Api, batch_body

CUSTOMER = {"OrganizationName": "Northwind", "CustomerGroupId": "10"}


def _count(api: Api, service: str, path: str, **params: str) -> int:
    answer = api.get(service, f"{path}/$count", params=params)
    assert answer.status_code == 200, answer.text
    return int(answer.text)


def test_dataverse_batch_with_a_change_set_and_a_read(api: Api) -> None:
    answers = api.batch(
        "sales",
        [
            ("GET", api.url("sales", f"contacts({CON})?$select=lastname"), None),
            [
                ("POST", "/sales/api/data/v9.2/accounts", {"name": "Contoso"}),
                (
                    "POST",
                    "contacts",
                    {"lastname": "Ref", "parentcustomerid_account@odata.bind": "$2"},
                ),
                ("PATCH", "contacts(msdynce_contactnumber='CON-50000-AAAAAA')", {"lastname": "Up"}),
            ],
        ],
    )
    assert [a["status"] for a in answers] == [200, 204, 204, 204]
    assert answers[0]["json"]["lastname"] == "Lee"
    assert [a["content_id"] for a in answers[1:]] == ["2", "3", "4"]
    new_contact = answers[2]["headers"]["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    contact = api.get(
        "sales",
        f"contacts({new_contact})",
        params={"$expand": "parentcustomerid_account($select=name)"},
    ).json()
    assert contact["parentcustomerid_account"]["name"] == "Contoso"
    assert contact["msdynce_iscompanyanaccount"] is True  # the plug-in ran in the batch
    assert _count(api, "sales", "contacts") == 5


def test_a_request_line_with_unencoded_spaces_is_read_whole(api: Api) -> None:
    answers = api.batch(
        "sales",
        [
            ("GET", "contacts?$filter=lastname eq 'Lee'&$select=lastname", None),
            ("GET", "contacts?$filter=lastname eq 'Lee' and firstname eq 'Ann'", None),
        ],
    )
    assert [a["status"] for a in answers] == [200, 200]
    assert [r["lastname"] for r in answers[0]["json"]["value"]] == ["Lee"]
    assert [r["lastname"] for r in answers[1]["json"]["value"]] == ["Lee"]


def test_a_failing_change_set_is_rolled_back_and_stops_the_batch(api: Api) -> None:
    answers = api.batch(
        "sales",
        [
            [
                ("POST", "contacts", {"lastname": "First"}),
                ("POST", "contacts", {"lastname": "Second", "shoesize": 9}),
            ],
            ("POST", "contacts", {"lastname": "After"}),
        ],
    )
    [failure] = answers  # the batch stopped at the failed change set
    assert failure["status"] == 400 and "shoesize" in failure["json"]["error"]["message"]
    assert _count(api, "sales", "contacts") == 3
    # With continue-on-error the rest runs; the failed change set still wrote nothing.
    answers = api.batch(
        "sales",
        [
            [
                ("POST", "contacts", {"lastname": "First"}),
                ("POST", "contacts", {"firstname": "NoLast"}),
            ],
            ("POST", "contacts", {"lastname": "After"}),
        ],
        Prefer="odata.continue-on-error",
    )
    assert [a["status"] for a in answers] == [400, 204]
    assert _count(api, "sales", "contacts") == 4


def test_requests_outside_change_sets_stand_alone(api: Api) -> None:
    answers = api.batch(
        "sales",
        [
            ("PATCH", f"contacts({CON})", {"jobtitle": "Owner"}, {"If-Match": "*"}),
            (
                "POST",
                "contacts",
                {"lastname": "X", "parentcustomerid_account@odata.bind": "/accounts(bad)"},
            ),
            ("POST", "contacts", {"lastname": "Never"}),
        ],
    )
    assert [a["status"] for a in answers] == [204, 400]
    assert api.get("sales", f"contacts({CON})").json()["jobtitle"] == "Owner"
    assert _count(api, "sales", "contacts") == 3


def test_batch_limits(api: Api) -> None:
    too_many = [("GET", "contacts?$top=1", None)] * 1001
    content_type, body = batch_body(too_many)
    answer = api.request(
        "sales", "POST", "$batch", headers={"Content-Type": content_type}, content=body
    )
    assert answer.status_code == 400 and "1000" in answer.json()["error"]["message"]
    nested = api.request(
        "sales", "POST", "$batch", headers={"Content-Type": "application/json"}, content=b"{}"
    )
    assert nested.status_code == 400 and "multipart/mixed" in nested.json()["error"]["message"]
    get_in_change_set = api.batch("sales", [[("GET", "contacts", None)]])
    assert get_in_change_set[0]["status"] == 400


def test_a_thousand_upserts_in_one_batch(api: Api) -> None:
    items = [
        ("PATCH", f"contacts(msdynce_contactnumber='CON-6{n:04d}-BATCHX')", {"lastname": f"L{n}"})
        for n in range(1000)
    ]
    answers = api.batch("sales", items)
    assert [a["status"] for a in answers] == [204] * 1000
    assert _count(api, "sales", "contacts") == 1003
    again = api.batch("sales", [(m, u, {"firstname": "F"}) for m, u, _ in items])
    assert {a["status"] for a in again} == {204}
    assert _count(api, "sales", "contacts") == 1003
    assert _count(api, "sales", "contacts", **{"$filter": "firstname eq 'F'"}) == 1000


def test_finops_batch_change_sets(api: Api) -> None:
    def customer(account: str, **more: str) -> dict[str, str]:
        return {"dataAreaId": "usmf", "CustomerAccount": account, **CUSTOMER, **more}

    answers = api.batch(
        "finops",
        [
            [
                ("POST", "CustomersV2", customer("B-1")),
                ("POST", "CustomersV2", customer("B-2", CustomerGroupId="99")),
            ]
        ],
    )
    [failure] = answers
    assert failure["status"] == 400
    inner = failure["json"]["error"]["innererror"]["message"]
    assert "Customer group" in inner and "'99'" in inner
    assert _count(api, "finops", "CustomersV2", **{"cross-company": "true"}) == 0
    answers = api.batch(
        "finops",
        [[("POST", "CustomersV2", customer("B-1")), ("POST", "CustomersV2", customer("B-2"))]],
    )
    assert [a["status"] for a in answers] == [201, 201]
    assert answers[0]["json"]["CustomerAccount"] == "B-1"


def test_finops_independent_writes_answer_each_as_if_alone(api: Api) -> None:
    # As the connector sends them: each write in its own change set, continue-on-error.
    def one(method: str, url: str, body: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
        return [(method, url, body)]

    key = "CustomersV2(dataAreaId='usmf',CustomerAccount='{}')"
    items = [
        one("POST", "CustomersV2", {"CustomerAccount": f"I-{n}", **CUSTOMER}) for n in range(50)
    ]
    items.append(one("POST", "CustomersV2", {"CustomerAccount": "I-bad", "OrganizationName": "X"}))
    items.append(one("PATCH", key.format("I-missing"), {"OrganizationName": "Nobody"}))
    items.append(one("POST", "CustomersV2", {"CustomerAccount": "I-x", "Colour": "red"}))
    answers = api.batch("finops", items, Prefer="odata.continue-on-error")
    assert [a["status"] for a in answers] == [201] * 50 + [400, 404, 400]
    assert "Customer group" in answers[50]["json"]["error"]["innererror"]["message"]
    assert "'Colour' does not exist" in answers[52]["json"]["error"]["message"]
    again = api.batch(
        "finops",
        [one("PATCH", key.format(f"I-{n}"), {"SalesMemo": f"m{n}"}) for n in range(50)]
        + [one("POST", "CustomersV2", {"CustomerAccount": "I-0", **CUSTOMER})],
        Prefer="odata.continue-on-error",
    )
    assert [a["status"] for a in again] == [204] * 50 + [400]
    assert "already exists" in again[50]["json"]["error"]["innererror"]["message"]
    memo = api.get("finops", key.format("I-7"), params={"$select": "SalesMemo,PartyNumber"}).json()
    assert memo["SalesMemo"] == "m7" and memo["PartyNumber"]
    assert _count(api, "finops", "CustomersV2") == 50


def test_cds_batch_refers_to_accounts_written_first(api: Api) -> None:
    account = {
        "Organization_OrganizationId": "ORG001",
        "AccountNumber": "ACC-1",
        "Name": "Fabrikam",
    }
    contact = {
        "Organization_OrganizationId": "ORG001",
        "ContactNumber": "CON-1",
        "LastName": "Lee",
        "PrimaryAccount_AccountNumber": "ACC-1",
    }
    answers = api.batch("cds", [[("POST", "Account", account), ("POST", "Contact", contact)]])
    assert [a["status"] for a in answers] == [201, 201]
    assert ACC not in str(answers)  # CDS keys are numbers, not Sales ids
