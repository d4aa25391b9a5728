"""The local sandbox of Dynamics 365 Sales, Finance and Operations and the CDS hub.

One set of services over SQLite, with the platforms' and the Prospect-to-cash solution's
rules; the engine's sandbox connectors call it in-process.
"""

from p2c.dynamics import DEFAULT_ORGANIZATION
from p2c.sandbox._bodies import navigation_properties
from p2c.sandbox._cds import CDSHub
from p2c.sandbox._finops import FinOpsSandbox
from p2c.sandbox._keyed import KeyedSystem
from p2c.sandbox._p2c import UpgradeReport
from p2c.sandbox._query import count, select
from p2c.sandbox._sales import ROOT_BUSINESS_UNIT, SalesSandbox
from p2c.sandbox._samples import sample_document
from p2c.sandbox._store import Store, chunks

__all__ = [
    "DEFAULT_ORGANIZATION",
    "ROOT_BUSINESS_UNIT",
    "CDSHub",
    "FinOpsSandbox",
    "KeyedSystem",
    "SalesSandbox",
    "Store",
    "UpgradeReport",
    "chunks",
    "count",
    "navigation_properties",
    "sample_document",
    "select",
]
