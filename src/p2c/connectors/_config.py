"""Connection settings as a typed tree with a ``type`` discriminator (dlt style).

Each connection type has its settings model here: ``sandbox`` (the embedded default, a
SQLite file), ``dataverse`` (Dynamics 365 Sales through the Web API) and ``finops`` (Finance
and Operations OData; also the CDS hub of the emulator). Which model a ``type`` names, and
what p2c does with it, is the registry's (``_registry.py``). The HTTP types sign in to Entra
ID with client credentials; the secret itself never lives in p2c.yaml, only the name of the
environment variable or file that holds it.
"""

from __future__ import annotations

__all__ = ["ConnectionSettings", "DataverseConnection", "FinOpsConnection", "SandboxConnection"]

from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from p2c.connectors._kind import ConnectionType


class ConnectionSettings(BaseModel):
    """The settings of one connection; each type's model derives from it.

    ``type`` names the connection type; ``kind`` is its registry entry, which says what p2c
    can do with the connection.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    @property
    def kind(self) -> ConnectionType[Self]:
        """The registry entry of this connection's type."""
        # The registry imports the connectors, which import these models: look it up late.
        from p2c.connectors._registry import connection_type

        entry: ConnectionType[Any] = connection_type(self.type)
        return entry


class SandboxConnection(ConnectionSettings):
    """A system of the local sandbox: a SQLite file, relative to the workspace.

    Args:
        path: The SQLite file.
        set_wise: Write F&O and CDS a page at a time through a staging table (fast); false:
            record by record, each update saying which fields it changes (the dry run's
            scratch copy, whose preview lists them).
    """

    type: Literal["sandbox"] = "sandbox"
    path: str
    set_wise: bool = True


class _HttpConnection(ConnectionSettings):
    """An environment reached over HTTPS with an Entra ID application (client credentials).

    Args:
        url: The environment URL (``https://contoso.crm.dynamics.com``,
            ``https://contoso.operations.dynamics.com``); the token scope is ``<url>/.default``.
        tenant: Entra ID tenant id or domain.
        client_id: Application (client) id of the app registration.
        client_secret_env: Environment variable holding the client secret.
        client_secret_file: File holding the client secret (relative to the workspace).
        certificate_file: PEM file with the certificate and its private key.
        certificate_password_env: Environment variable holding the password of an encrypted
            private key in ``certificate_file``.
        certificate_thumbprint: SHA-1 thumbprint of the certificate (computed when omitted).
        authority_host: The Entra ID host (another cloud, or the emulator).
        ca_file: PEM bundle of the certificate authorities to trust (the emulator's).
        page_size: Records per page read.
        batch_size: Requests per ``$batch`` when writing (1 sends single requests).
        max_concurrency: Most requests in flight at once.
        timeout: Seconds to wait for one answer.
        max_retries: Retries of a throttled or failed request before giving up on it.
    """

    url: str
    tenant: str
    client_id: str
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    certificate_file: str | None = None
    certificate_password_env: str | None = None
    certificate_thumbprint: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    ca_file: str | None = None
    page_size: int = Field(5000, ge=1)
    batch_size: int = Field(100, ge=1, le=1000)
    max_concurrency: int = Field(8, ge=1, le=52)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(8, ge=0)

    @model_validator(mode="after")
    def _one_credential(self) -> _HttpConnection:
        given = [
            name
            for name in ("client_secret_env", "client_secret_file", "certificate_file")
            if getattr(self, name)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of client_secret_env, client_secret_file or certificate_file"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.certificate_password_env and not self.certificate_file:
            raise ValueError("certificate_password_env goes with certificate_file")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"url must be the environment URL, https://…, not {self.url!r}")
        return self

    @property
    def environment_url(self) -> str:
        return self.url.rstrip("/")


class DataverseConnection(_HttpConnection):
    """Dynamics 365 Sales (Dataverse) through the Web API, ``<url>/api/data/v9.2/``."""

    type: Literal["dataverse"]
    page_size: int = Field(5000, ge=1, le=5000)


class FinOpsConnection(_HttpConnection):
    """Finance and Operations through OData, ``<url>/data/``, and for bulk writes through
    the Data management package API (F&O only; the CDS hub is always written over OData).

    Args:
        write: ``odata`` (every write a request, ``batch_size`` to a ``$batch``),
            ``package`` (a task's writes as data packages imported by the Data management
            framework) or ``auto`` (packages when a task has more than
            ``package_threshold`` records to write, OData for the trickle of later runs).
        package_threshold: With ``auto``: most records a task writes through OData.
        package_size: Most records per data package.
        package_poll: Seconds before the first status poll of an import; the wait doubles
            up to 30 s.
        package_timeout: Seconds to wait for an import; after that the run stops and the
            next one asks for the import's outcome.
    """

    type: Literal["finops"]
    page_size: int = Field(5000, ge=1, le=10000)
    write: Literal["odata", "package", "auto"] = "odata"
    package_threshold: int = Field(10_000, ge=0)
    package_size: int = Field(100_000, ge=1)
    package_poll: float = Field(2.0, gt=0)
    package_timeout: float = Field(3600.0, gt=0)
