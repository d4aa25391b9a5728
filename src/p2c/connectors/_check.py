"""Checking a connection: can p2c sign in, reach the environment and read from it?"""

from __future__ import annotations

__all__ = ["ConnectionCheck", "check_connection"]

from dataclasses import dataclass
from pathlib import Path

from p2c._errors import P2CError
from p2c.connectors._config import Connection, DataverseConnection, SandboxConnection
from p2c.connectors._dataverse import dataverse_session
from p2c.connectors._finops import finops_session
from p2c.connectors._http import ApiSession
from p2c.connectors._open import System, _check, connection_label

# A cheap authenticated read per system: one small record of a table p2c reads. Not WhoAmI:
# it proves the sign-in, not that the application user's roles let it read contacts.
_PROBES = {
    "sales": "contacts?$select=contactid&$top=1",
    "finops": "LegalEntities?$top=1",
    "cds": "Organization?$top=1",
}


@dataclass(frozen=True)
class ConnectionCheck:
    """The result of checking one connection."""

    system: System
    label: str
    ok: bool
    message: str
    fix: str | None = None


def check_connection(
    connection: Connection, system: System, root: Path, name: str | None = None
) -> ConnectionCheck:
    """Sign in and read once; a failure says what is wrong (URL, credentials, permission)."""
    label = connection_label(connection, system, name)
    try:
        _check(connection, system)
        if isinstance(connection, SandboxConnection):
            path = (root / connection.path).resolve()
            if not path.is_file():
                return ConnectionCheck(
                    system,
                    label,
                    False,
                    f"the sandbox file {path} does not exist",
                    "run `p2c init` or correct path in p2c.yaml",
                )
            return ConnectionCheck(system, label, True, "sandbox file present")
        session: ApiSession = (
            dataverse_session(connection, root, label)
            if isinstance(connection, DataverseConnection)
            else finops_session(connection, root, label)
        )
        try:
            session.tokens.token()
            session.get_json(_PROBES[system])
        finally:
            session.close()
    except P2CError as error:
        message = error.message.removeprefix(f"{label}: ")
        return ConnectionCheck(system, label, False, message, error.fix)
    return ConnectionCheck(system, label, True, "signed in and read")
