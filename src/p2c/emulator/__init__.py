"""The sandbox served over HTTPS with the public API shapes of Dynamics 365.

Sales as the Dataverse Web API, F&O and the CDS hub as F&O OData, and a local Entra ID token
endpoint, on 127.0.0.1 only, with service protection (429 with ``Retry-After``), latency and
fault injection. The HTTP connectors are tested end to end against it.
"""

from p2c.emulator._app import MAX_BODY
from p2c.emulator._protection import EmulatorStats, ServiceStats
from p2c.emulator._server import RunningEmulator, serve
from p2c.emulator._settings import (
    CLIENT_ID,
    DEFAULT_SECRET,
    SECRET_ENV,
    TENANT,
    EmulatorSettings,
)
from p2c.emulator._tls import ensure_certificate

__all__ = [
    "CLIENT_ID",
    "DEFAULT_SECRET",
    "MAX_BODY",
    "SECRET_ENV",
    "TENANT",
    "EmulatorSettings",
    "EmulatorStats",
    "RunningEmulator",
    "ServiceStats",
    "ensure_certificate",
    "serve",
]
