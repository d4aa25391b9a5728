"""The Sales data the command-line tests load: an account, a good contact person, one F&O
refuses (country Atlantis), and a customer."""

from __future__ import annotations

from typing import Any

ACCOUNT = "a1000000-0000-4000-8000-000000000001"
GOOD = "c1000000-0000-4000-8000-000000000001"
ATLANTIS = "c1000000-0000-4000-8000-000000000002"
BUYER = "c1000000-0000-4000-8000-000000000003"

WITH_A_BAD_CONTACT: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"accountid": ACCOUNT, "name": "Fabrikam"}],
    "contacts": [
        {
            "contactid": GOOD,
            "firstname": "Per",
            "lastname": "Persson",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        },
        {
            "contactid": ATLANTIS,
            "firstname": "Atla",
            "lastname": "Ntis",
            "address1_country": "Atlantis",
            "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})",
        },
        {"contactid": BUYER, "firstname": "Bea", "lastname": "Buyer"},
    ],
    "quotes": [{"name": "Q", "customerid_contact@odata.bind": f"/contacts({BUYER})"}],
}
