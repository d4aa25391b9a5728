"""Sample Sales data of a realistic mix, as a load document (same seed, same data).

Accounts; contacts of accounts; contacts whose company is another contact; contacts with
no company; and quotes, orders and invoices that make some contacts active customers.
"""

from __future__ import annotations

__all__ = ["sample_document"]

import random
import uuid
from typing import Any

FIRST = (
    "Ann",
    "Bo",
    "Carla",
    "Dev",
    "Eva",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jon",
    "Kari",
    "Lars",
    "Maja",
    "Nils",
    "Olga",
    "Per",
    "Rita",
    "Sven",
    "Tove",
    "Ulf",
    "Vera",
    "Yusuf",
)
LAST = (
    "Andersson",
    "Berg",
    "Chen",
    "Dahl",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Iversen",
    "Johansson",
    "Khan",
    "Larsen",
    "Moreau",
    "Nilsen",
    "Olsen",
    "Patel",
    "Quinn",
    "Rossi",
)
COMPANIES = (
    "Fabrikam",
    "Contoso",
    "Litware",
    "Northwind",
    "Adventure Works",
    "Tailspin",
    "Wingtip",
    "Alpine Ski House",
    "Coho Winery",
    "Proseware",
    "Woodgrove",
    "Lamna",
)
PLACES = (
    ("Seattle", "WA", "98052", "United States"),
    ("Redmond", "WA", "98052", "United States"),
    ("Stockholm", "", "111 22", "Sweden"),
    ("Oslo", "", "0150", "Norway"),
    ("Berlin", "", "10115", "Germany"),
    ("London", "", "SW1A 1AA", "United Kingdom"),
    ("Chicago", "IL", "60601", "United States"),
    ("", "", "", ""),
)
JOBS = ("Purchasing Manager", "CFO", "Buyer", "Owner", "Office Manager", "IT Director", "")


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _accounts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    accounts = []
    for n in range(count):
        city, state, postal, country = PLACES[n % len(PLACES)]
        accounts.append(
            {
                "accountid": _id(rng),
                "name": f"{COMPANIES[n % len(COMPANIES)]} {n + 1}",
                "emailaddress1": f"info{n + 1}@example.com",
                "telephone1": f"+1 425 555 {n % 10000:04d}",
                "address1_line1": f"{n + 1} Main Street",
                "address1_city": city,
                "address1_stateorprovince": state,
                "address1_postalcode": postal,
                "address1_country": country,
            }
        )
    return accounts


def sample_document(contacts: int = 40, *, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """A load document with ``contacts`` contacts and accounts and activity to match."""
    rng = random.Random(seed)
    accounts = _accounts(rng, max(1, contacts // 10))
    people: list[dict[str, Any]] = []
    for n in range(contacts):
        first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
        city, state, postal, country = PLACES[rng.randrange(len(PLACES))]
        person: dict[str, Any] = {
            "contactid": _id(rng),
            "firstname": first,
            "lastname": f"{last}{n // (len(FIRST) * len(LAST)) or ''}",
            "emailaddress1": f"{first.lower()}.{last.lower()}{n}@example.com",
            "telephone1": f"+1 206 555 {n % 10000:04d}",
            "jobtitle": JOBS[n % len(JOBS)],
            "address1_line1": f"{n + 10} Pine Road" if city else "",
            "address1_city": city,
            "address1_stateorprovince": state,
            "address1_postalcode": postal,
            "address1_country": country,
        }
        share = n % 10
        if share < 6:  # contact of an account
            account = accounts[rng.randrange(len(accounts))]["accountid"]
            person["parentcustomerid_account@odata.bind"] = f"/accounts({account})"
        elif share < 8 and people:  # contact of another contact
            parent = people[rng.randrange(len(people))]["contactid"]
            person["parentcustomerid_contact@odata.bind"] = f"/contacts({parent})"
        people.append({k: v for k, v in person.items() if v != ""})
    document: dict[str, list[dict[str, Any]]] = {
        "accounts": accounts,
        "contacts": people,
        "quotes": [],
        "salesorders": [],
        "invoices": [],
    }
    for n, person in enumerate(people):
        slot = n % 5  # one in five contacts buys: a quote, an order or an invoice
        if slot != 4:
            continue
        kind = ("quotes", "salesorders", "invoices")[(n // 5) % 3]
        document[kind].append(
            {
                "name": f"{kind[:-1].title()} for {person['firstname']} {person['lastname']}",
                "customerid_contact@odata.bind": f"/contacts({person['contactid']})",
                "totalamount": float(rng.randrange(100, 20000)),
            }
        )
    return document
