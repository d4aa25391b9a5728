"""The Prospect-to-cash upgrade script through the Dataverse Web API.

The same back-fill as the sandbox's (``p2c.sandbox._p2c``): Contact and Account Numbers from
the ``msdynce_p2cautonumber`` sequences for records that have none, Is Active Customer for
contacts with a quote, order or invoice (and No, the column's default, for the others that
have no value), Is Company An Account from the type of ``parentcustomerid``. A solution is
installed by an administrator, not by this script: it only checks that it is. Running it
again changes nothing.
"""

from __future__ import annotations

__all__ = ["upgrade_through_web_api"]

from collections.abc import Iterator
from typing import Any

from p2c._errors import NotFoundError, PrerequisiteError, RecordRejected
from p2c.connectors._http import ApiSession, Call, error_message
from p2c.connectors._odata import read_pages, with_query
from p2c.dynamics import ACTIVITY_SETS, P2C_SOLUTION, format_number
from p2c.odata import Compare, to_odata
from p2c.sandbox import UpgradeReport

_LOOKUP_TYPE = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def _all(session: ApiSession, entity_set: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
    headers = {"Prefer": 'odata.maxpagesize=5000,odata.include-annotations="*"'}
    for page in read_pages(session, entity_set, params, headers, lambda raw: raw):
        yield from page


def _write(session: ApiSession, calls: list[Call], what: str) -> None:
    answers = session.send_all(calls)
    failed = [a for a in answers if not a.ok]
    if failed:
        raise RecordRejected(
            f"{session.label}: {len(failed)} of {len(calls)} {what} were not written: "
            f"{error_message(failed[0])}",
            fix="run `p2c sales upgrade` again; it continues where it stopped",
        )


def _number(
    session: ApiSession,
    sequences: dict[str, dict[str, Any]],
    entity: str,
    entity_set: str,
    column: str,
) -> int:
    key = f"{entity}id"
    empty = f"{column} eq null or {column} eq ''"
    ids = [
        r[key]
        for r in _all(
            session, entity_set, {"$select": key, "$filter": empty, "$orderby": f"createdon,{key}"}
        )
    ]
    if not ids:
        return 0
    sequence = sequences.get(entity)
    if sequence is None:
        raise NotFoundError(
            f"{session.label}: no msdynce_p2cautonumber has an msdynce_entityname of {entity}.",
            fix="repair the Prospect-to-cash solution; its number sequences are missing",
        )
    start = int(sequence["msdynce_numbersequence"])
    # Take the numbers first: if the script stops half-way, no number is handed out twice.
    _write(
        session,
        [
            Call(
                "PATCH",
                f"msdynce_p2cautonumbers({sequence['msdynce_p2cautonumberid']})",
                {"msdynce_numbersequence": start + len(ids)},
                {"If-Match": "*"},
            )
        ],
        "number sequence updates",
    )
    sequence["msdynce_numbersequence"] = start + len(ids)
    suffix = int(sequence["msdynce_suffixlength"])
    calls = [
        Call(
            "PATCH",
            f"{entity_set}({record_id})",
            {column: format_number(sequence["msdynce_prefix"], start + offset, suffix)},
            {"If-Match": "*"},
        )
        for offset, record_id in enumerate(ids)
    ]
    _write(session, calls, f"{entity_set} numbers")
    return len(ids)


def upgrade_through_web_api(session: ApiSession) -> UpgradeReport:
    """Run the upgrade script against a Dataverse environment.

    Raises:
        PrerequisiteError: the Prospect-to-cash solution is not installed there.
        RecordRejected: some records could not be written (run it again).
    """
    _require_solution(session)
    sequences = {
        r["msdynce_entityname"]: r
        for r in _all(
            session,
            "msdynce_p2cautonumbers",
            {
                "$select": "msdynce_p2cautonumberid,msdynce_entityname,msdynce_prefix,"
                "msdynce_numbersequence,msdynce_suffixlength"
            },
        )
    }
    contact_numbers = _number(session, sequences, "contact", "contacts", "msdynce_contactnumber")
    account_numbers = _number(session, sequences, "account", "accounts", "accountnumber")
    calls, active_count, flags = _flag_changes(session, _active_contacts(session))
    _write(session, calls, "contact flags")
    return UpgradeReport(False, contact_numbers, account_numbers, active_count, flags)


def _require_solution(session: ApiSession) -> None:
    solutions = session.get_json(
        with_query(
            "solutions",
            {
                "$filter": to_odata(Compare("eq", "uniquename", P2C_SOLUTION)),
                "$select": "uniquename,version",
            },
        )
    )
    if not solutions.get("value"):
        raise PrerequisiteError(
            f"{session.label}: the Prospect-to-cash solution ({P2C_SOLUTION}) is not installed.",
            fix="install 'Prospect to cash integration' from the Power Platform admin center "
            "(Dynamics 365 apps), then run `p2c sales upgrade` again",
        )


def _active_contacts(session: ApiSession) -> set[str]:
    """The ids of contacts that a quote, order or invoice names as its customer."""
    active: set[str] = set()
    for entity_set in ACTIVITY_SETS:
        for record in _all(
            session,
            entity_set,
            {"$select": "_customerid_value", "$filter": "_customerid_value ne null"},
        ):
            if record.get("_customerid_value" + _LOOKUP_TYPE) == "contact":
                active.add(str(record["_customerid_value"]).lower())
    return active


def _flag_changes(session: ApiSession, active: set[str]) -> tuple[list[Call], int, int]:
    """The writes that set Is Active Customer and Is Company An Account where they differ,
    with how many contacts become active customers and how many company flags change."""
    calls: list[Call] = []
    active_count = flags = 0
    for contact in _all(
        session,
        "contacts",
        {
            "$select": "contactid,msdynce_isactivecustomer,msdynce_iscompanyanaccount,"
            "_parentcustomerid_value"
        },
    ):
        changes: dict[str, Any] = {}
        is_active = contact.get("msdynce_isactivecustomer")
        if str(contact["contactid"]).lower() in active and is_active is not True:
            changes["msdynce_isactivecustomer"] = True
            active_count += 1
        elif is_active is None:
            changes["msdynce_isactivecustomer"] = False
        company = contact.get("_parentcustomerid_value" + _LOOKUP_TYPE) == "account"
        if contact.get("msdynce_iscompanyanaccount") is not company:
            changes["msdynce_iscompanyanaccount"] = company
            flags += 1
        if changes:
            calls.append(
                Call("PATCH", f"contacts({contact['contactid']})", changes, {"If-Match": "*"})
            )
    return calls, active_count, flags
