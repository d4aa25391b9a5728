"""The local sandbox of Dynamics 365 Sales, Finance and Operations and the CDS hub.

One set of services over SQLite, with the platforms' and the Prospect-to-cash solution's
rules; the engine's sandbox connectors call it in-process.
"""

from p2c.sandbox._cds import DEFAULT_ORGANIZATION, CDSHub
from p2c.sandbox._finops import FinOpsSandbox
from p2c.sandbox._keyed import Outcome
from p2c.sandbox._p2c import UpgradeReport
from p2c.sandbox._sales import ROOT_BUSINESS_UNIT, SalesSandbox
from p2c.sandbox._samples import sample_document

__all__ = [
    "DEFAULT_ORGANIZATION",
    "ROOT_BUSINESS_UNIT",
    "CDSHub",
    "FinOpsSandbox",
    "Outcome",
    "SalesSandbox",
    "UpgradeReport",
    "sample_document",
]
