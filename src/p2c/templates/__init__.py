"""The built-in Prospect-to-cash templates."""

from __future__ import annotations

__all__ = ["template_names"]

from typing import Literal

_DIRECT = (
    "Accounts (Sales to Fin and Ops) - Direct",
    "Contacts (Sales to Fin and Ops) - Direct",
    "Contacts to Customer (Sales to Fin and Ops) - Direct",
)
_VIA_CDS = (
    "Accounts (Sales to Fin and Ops)",
    "Contacts (Sales to Fin and Ops)",
    "Contacts to Customer (Sales to Fin and Ops)",
)


def template_names(generation: Literal["direct", "via-cds"]) -> tuple[str, ...]:
    """Names of the built-in templates of one generation, in prerequisite order."""
    return _DIRECT if generation == "direct" else _VIA_CDS
