"""The Prospect-to-cash solution for Sales, as the sandbox runs it.

What the solution's plug-ins do (reference notes §4.3-§4.5):

- Contact Number ``msdynce_contactnumber`` from the ``msdynce_p2cautonumber`` sequence of
  ``contact`` on create: ``CON-01000-BVRCPS`` (prefix, five-digit counter, random suffix of
  ``msdynce_suffixlength`` characters); ``accountnumber`` ``ACC-…`` the same way when empty.
- ``msdynce_iscompanyanaccount``: whether ``parentcustomerid`` is an account, kept on create
  and on update.
- ``msdynce_isactivecustomer``: set to Yes when a quote, order or invoice is created for the
  contact or re-pointed to it; never cleared.
- The upgrade script: back-fills the above on a Sales that had data before the solution.
"""

from __future__ import annotations

__all__ = ["P2CSolution", "UpgradeReport"]

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2c._errors import NotFoundError
from p2c.dynamics import ACTIVITY_SETS, P2C_SOLUTION, SALES, format_number, utc_now, utc_text
from p2c.sandbox._store import Store, chunks
from p2c.sandbox._versions import numbered_here, stamp_sql, stamped

FIRST_NUMBER = 1000
SEQUENCES = {"contact": "CON", "account": "ACC"}


@dataclass(frozen=True)
class UpgradeReport:
    """What one run of the upgrade script changed."""

    solution_installed: bool
    contact_numbers: int
    account_numbers: int
    active_customers: int
    company_flags: int

    @property
    def changed(self) -> int:
        return (
            int(self.solution_installed)
            + self.contact_numbers
            + self.account_numbers
            + self.active_customers
            + self.company_flags
        )


class P2CSolution:
    """The solution's rules over one Sales store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def installed(self) -> bool:
        return self.store.setting(f"solution:{P2C_SOLUTION}") == "installed"

    def install(self) -> bool:
        """Create the auto-number configuration; return whether anything was new."""
        if self.installed:
            return False
        config = SALES.entity("msdynce_p2cautonumber")
        now = utc_text(utc_now())
        with self.store.transaction():
            for entity_name, prefix in SEQUENCES.items():
                if self.store.existing(config, "msdynce_entityname", [entity_name]):
                    continue
                self.store.insert(
                    config,
                    [
                        "msdynce_p2cautonumberid",
                        "msdynce_name",
                        "msdynce_entityname",
                        "msdynce_prefix",
                        "msdynce_numbersequence",
                        "msdynce_suffixlength",
                        "createdon",
                        "modifiedon",
                    ],
                    [
                        (
                            str(uuid.uuid4()),
                            f"{entity_name} number",
                            entity_name,
                            prefix,
                            FIRST_NUMBER,
                            6,
                            now,
                            now,
                        )
                    ],
                )
            self.store.set_setting(f"solution:{P2C_SOLUTION}", "installed")
        return True

    def next_numbers(self, entity_name: str, count: int) -> list[str]:
        """Take ``count`` numbers from the entity's sequence (inside the caller's transaction)."""
        if count == 0:
            return []
        row = self.store.db.execute(
            "SELECT msdynce_prefix, msdynce_numbersequence, msdynce_suffixlength "
            "FROM msdynce_p2cautonumber WHERE msdynce_entityname = ?",
            (entity_name,),
        ).fetchone()
        if row is None:
            raise NotFoundError(
                "Could not find a msdynce_p2cautonumber with an msdynce_entityname of "
                f"{entity_name}.",
                fix="run `p2c sales upgrade` to install the Prospect-to-cash solution",
            )
        prefix, start, suffix_length = row
        self.store.db.execute(
            "UPDATE msdynce_p2cautonumber SET msdynce_numbersequence = ?, modifiedon = ? "
            "WHERE msdynce_entityname = ?",
            (start + count, utc_text(utc_now()), entity_name),
        )
        return [format_number(prefix, n, suffix_length) for n in range(start, start + count)]

    # plug-in steps -----------------------------------------------------------------------------

    def before_create(self, entity_name: str, rows: list[dict[str, Any]]) -> None:
        """PreOperation create steps of contact and account."""
        if entity_name == "contact":
            missing = [r for r in rows if not r.get("msdynce_contactnumber")]
            for row, number in zip(
                missing, self.next_numbers("contact", len(missing)), strict=True
            ):
                row["msdynce_contactnumber"] = number
            for row in rows:
                row["msdynce_iscompanyanaccount"] = int(
                    row.get("parentcustomeridtype") == "account"
                )
        elif entity_name == "account":
            missing = [r for r in rows if not r.get("accountnumber")]
            for row, number in zip(
                missing, self.next_numbers("account", len(missing)), strict=True
            ):
                row["accountnumber"] = number

    def before_update(self, entity_name: str, changes: dict[str, Any]) -> None:
        """PreOperationContactUpdate, filtered on parentcustomerid."""
        if entity_name == "contact" and "parentcustomerid" in changes:
            changes["msdynce_iscompanyanaccount"] = int(
                changes.get("parentcustomeridtype") == "account"
            )

    def mark_active_customers(self, contact_ids: Sequence[str]) -> int:
        """PostOperation quote/order/invoice steps: the customer contact becomes active."""
        now = utc_text(utc_now())
        changed = 0
        contact = SALES.entity("contact")
        with self.store.transaction(), numbered_here(self.store, contact):
            for part in chunks(list(set(contact_ids))):
                marks = ", ".join("?" * len(part))
                changed += self.store.change(
                    f"UPDATE contact SET msdynce_isactivecustomer = 1, modifiedon = ?, "
                    f"{stamp_sql()} WHERE msdynce_isactivecustomer = 0 AND contactid IN ({marks})",
                    (now, *part),
                )
            stamped(self.store, contact)
        return changed

    # upgrade script ----------------------------------------------------------------------------

    def upgrade(self) -> UpgradeReport:
        """Install if needed and back-fill; running it again changes nothing."""
        db = self.store.db
        with self.store.transaction():
            installed = self.install()
            now = utc_text(utc_now())
            contacts = [
                r[0]
                for r in db.execute(
                    "SELECT contactid FROM contact WHERE msdynce_contactnumber IS NULL "
                    "OR msdynce_contactnumber = '' ORDER BY createdon, contactid"
                )
            ]
            numbers = self.next_numbers("contact", len(contacts))
            db.executemany(
                "UPDATE contact SET msdynce_contactnumber = ?, modifiedon = ? WHERE contactid = ?",
                [(n, now, c) for n, c in zip(numbers, contacts, strict=True)],
            )
            accounts = [
                r[0]
                for r in db.execute(
                    "SELECT accountid FROM account WHERE accountnumber IS NULL "
                    "OR accountnumber = '' ORDER BY createdon, accountid"
                )
            ]
            numbers = self.next_numbers("account", len(accounts))
            db.executemany(
                "UPDATE account SET accountnumber = ?, modifiedon = ? WHERE accountid = ?",
                [(n, now, a) for n, a in zip(numbers, accounts, strict=True)],
            )
            active = " UNION ".join(
                f"SELECT customerid FROM {SALES.entity(s).name} WHERE customeridtype = 'contact'"
                for s in ACTIVITY_SETS
            )
            active_count = self.store.change(
                "UPDATE contact SET msdynce_isactivecustomer = 1, modifiedon = ? "
                f"WHERE COALESCE(msdynce_isactivecustomer, 0) = 0 AND contactid IN ({active})",
                (now,),
            )
            # Contacts from before the solution have no value yet; the column's default is No,
            # and the routing filters (eq true / eq false) never match an empty value.
            db.execute(
                "UPDATE contact SET msdynce_isactivecustomer = 0 "
                "WHERE msdynce_isactivecustomer IS NULL"
            )
            flag = "(CASE WHEN parentcustomeridtype = 'account' THEN 1 ELSE 0 END)"
            flags = self.store.change(
                f"UPDATE contact SET msdynce_iscompanyanaccount = {flag}, modifiedon = ? "
                f"WHERE msdynce_iscompanyanaccount IS NOT {flag}",
                (now,),
            )
        return UpgradeReport(installed, len(contacts), len(accounts), active_count, flags)
