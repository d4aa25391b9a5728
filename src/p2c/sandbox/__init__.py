"""The local sandbox of Dynamics 365 Sales, Finance and Operations and the CDS hub.

One set of services over SQLite, with the platforms' and the Prospect-to-cash solution's
rules; the engine's sandbox connectors call it in-process and the emulator serves it over
HTTPS. Tables are made from the model (``p2c.dynamics``) when a system opens. F&O and the
CDS hub write an entity through its rules class (``EntityRules``), registered by entity
name with ``register_rules``; an entity without rules is not written.

Besides the systems, the emulator and the connectors use: ``KeyedSystem`` (the write model
of F&O and the hub), ``Store`` and ``chunks`` (a system's SQLite database, IN lists in
parts), ``select``, ``select_rows`` and ``count`` (filtered reads pushed down to SQL) and
``navigation_properties`` (Dataverse's navigation properties of an entity).
"""

from p2c.dynamics import DEFAULT_ORGANIZATION
from p2c.sandbox import _finops_rules  # noqa: F401  (registers the rules of F&O's entities)
from p2c.sandbox._bodies import navigation_properties
from p2c.sandbox._cds import CDSHub
from p2c.sandbox._finops import FinOpsSandbox
from p2c.sandbox._keyed import KeyedSystem
from p2c.sandbox._p2c import UpgradeReport
from p2c.sandbox._query import count, select, select_rows
from p2c.sandbox._rules import EntityRules, Rejection, register_rules, unregister_rules
from p2c.sandbox._sales import ROOT_BUSINESS_UNIT, SalesSandbox
from p2c.sandbox._samples import sample_document
from p2c.sandbox._store import Store, chunks

__all__ = [
    "DEFAULT_ORGANIZATION",
    "ROOT_BUSINESS_UNIT",
    "CDSHub",
    "EntityRules",
    "FinOpsSandbox",
    "KeyedSystem",
    "Rejection",
    "SalesSandbox",
    "Store",
    "UpgradeReport",
    "chunks",
    "count",
    "navigation_properties",
    "register_rules",
    "sample_document",
    "select",
    "select_rows",
    "unregister_rules",
]
