"""The ``solutions`` table of the Dataverse face: the platform's and the installed ones."""

from __future__ import annotations

__all__ = ["solutions_reply"]

import uuid
from typing import Any

from p2c.dynamics import P2C_SOLUTION
from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._options import parse_filter_text, parse_select
from p2c.odata import evaluate, fields_of

# (unique name, friendly name, version, managed); the platform's are always there.
_PLATFORM = (
    ("System", "System Solution", "9.2.26011.168", True),
    ("Active", "Active Solution", "1.0", False),
    ("Default", "Default Solution", "1.0", False),
)
_KNOWN = {P2C_SOLUTION: ("Prospect to Cash", "15.0.0.1", True)}
_COLUMNS = ("solutionid", "uniquename", "friendlyname", "version", "ismanaged", "installedon")


def _record(unique: str, friendly: str, version: str, managed: bool) -> dict[str, Any]:
    return {
        "solutionid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{unique}.solution.p2c")),
        "uniquename": unique,
        "friendlyname": friendly,
        "version": version,
        "ismanaged": managed,
        "installedon": "2026-01-01T00:00:00Z",
    }


def solutions_reply(call: Call, installed: set[str]) -> Reply:
    """``GET solutions`` with ``$filter`` and ``$select``."""
    records = [_record(*s) for s in _PLATFORM]
    records += [_record(name, *_KNOWN.get(name, (name, "1.0.0.0", True))) for name in installed]
    text = call.query.get("$filter")
    if text:
        tree = parse_filter_text(text)
        for name in fields_of(tree) - set(_COLUMNS):
            raise ApiError(
                400,
                f"Could not find a property named '{name}' on type "
                "'Microsoft.Dynamics.CRM.solution'.",
                "0x80060888",
            )
        records = [r for r in records if evaluate(tree, r)]
    selected = parse_select(call.query.get("$select"))
    if selected is not None:
        for name in selected:
            if name not in _COLUMNS:
                raise ApiError(
                    400,
                    f"Could not find a property named '{name}' on type "
                    "'Microsoft.Dynamics.CRM.solution'.",
                    "0x80060888",
                )
        keep = [*selected, "solutionid"]
        records = [{k: r[k] for k in keep} for r in records]
    context = ",".join(selected or ())
    return json_reply(
        200, {"@odata.context": f"{call.root}$metadata#solutions({context})", "value": records}
    )
