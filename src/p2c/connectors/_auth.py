"""Signing in to Entra ID with client credentials (MSAL), for Dataverse and F&O.

The secret is read from the environment variable or file that p2c.yaml names, kept as a
``SecretStr`` and handed only to MSAL; it never reaches a message, a log or a repr. Tokens
are cached until shortly before they expire. :class:`BearerToken` puts the token on each API
request as an ``httpx.Auth``: when the policy says a 401 calls for a new token, it refreshes
once and sends the request again.
"""

from __future__ import annotations

__all__ = [
    "BearerToken",
    "TokenProvider",
    "describe_sign_in_failure",
    "ssl_context",
    "unreachable",
]

import hashlib
import os
import re
import ssl
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import msal  # type: ignore[import-untyped]
from pydantic import SecretStr

from p2c._errors import ConnectionFailed
from p2c.connectors._config import _HttpConnection
from p2c.connectors._policy import Action, classify

# Refresh a token this long before it expires, so that a request never carries a stale one.
_EARLY_REFRESH = 300.0

_AADSTS_FIXES = {
    "7000215": "the client secret is wrong or expired: create a new one under App registrations "
    "> Certificates & secrets in Entra ID and put it where client_secret_env/_file points",
    "7000222": "the client secret has expired: create a new one in Entra ID",
    "700016": "no application with this client_id exists in the tenant: check client_id and tenant",
    "700027": "the certificate is not registered on the app: upload it under Certificates & "
    "secrets, or check certificate_thumbprint",
    "90002": "the tenant does not exist: check tenant (a tenant id or domain)",
    "500011": "the environment URL is not a resource of this tenant: check url",
    "50049": "the authority is not valid: check tenant and authority_host",
}


def ssl_context(connection: _HttpConnection, root: Path) -> ssl.SSLContext:
    """Certificate verification, trusting ``ca_file`` (relative to the workspace) if given."""
    if connection.ca_file is None:
        return ssl.create_default_context()
    path = (root / connection.ca_file).resolve()
    if not path.is_file():
        raise ConnectionFailed(
            f"The certificate authority file {path} does not exist.",
            fix="check ca_file in p2c.yaml (a PEM file, relative to the workspace)",
        )
    return ssl.create_default_context(cafile=str(path))


class _MsalHttp:
    """MSAL's ``http_client`` over httpx, so that sign-in honours ``ca_file`` and timeouts."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        **_: Any,
    ) -> httpx.Response:
        if isinstance(data, dict):
            # MSAL gives the certificate's client assertion as bytes: requests, its default
            # client, form-encodes bytes as their text; httpx would send their repr.
            data = {k: v.decode("ascii") if isinstance(v, bytes) else v for k, v in data.items()}
        return self.client.post(url, params=params, data=data, headers=headers)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return self.client.get(url, params=params, headers=headers)

    def close(self) -> None:
        """The client belongs to the connector, which closes it."""


def _read_secret(connection: _HttpConnection, root: Path, label: str) -> SecretStr:
    if connection.client_secret_env:
        value = os.environ.get(connection.client_secret_env)
        if not value:
            raise ConnectionFailed(
                f"{label}: the environment variable {connection.client_secret_env} that holds "
                "the client secret is not set.",
                fix=f"export {connection.client_secret_env}=<the app's client secret>",
            )
        return SecretStr(value)
    assert connection.client_secret_file is not None
    path = (root / connection.client_secret_file).resolve()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConnectionFailed(
            f"{label}: cannot read the client secret file {path}: {exc.strerror}.",
            fix="check client_secret_file in p2c.yaml",
        ) from None
    if not value:
        raise ConnectionFailed(f"{label}: the client secret file {path} is empty.")
    return SecretStr(value)


def _certificate(connection: _HttpConnection, root: Path, label: str) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    assert connection.certificate_file is not None
    path = (root / connection.certificate_file).resolve()
    try:
        pem = path.read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError) as exc:
        raise ConnectionFailed(
            f"{label}: cannot read the certificate {path}: {exc}.",
            fix="certificate_file must be a PEM file with the certificate and its private key",
        ) from None
    thumbprint = (
        connection.certificate_thumbprint
        or hashlib.sha1(certificate.public_bytes(Encoding.DER), usedforsecurity=False).hexdigest()
    )
    credential = {"private_key": pem.decode("ascii"), "thumbprint": thumbprint}
    variable = connection.certificate_password_env
    if variable:
        password = os.environ.get(variable)
        if not password:
            raise ConnectionFailed(
                f"{label}: the environment variable {variable} that holds the password of the "
                "certificate's private key is not set.",
                fix=f"export {variable}=<the key's password>",
            )
        credential["passphrase"] = password
    return credential


def describe_sign_in_failure(
    label: str, connection: _HttpConnection, result: dict[str, Any]
) -> ConnectionFailed:
    """A ConnectionFailed naming the connection, the AADSTS code and the fix."""
    description = str(result.get("error_description") or result.get("error") or "no token")
    code = re.search(r"AADSTS(\d+)", description)
    # Entra ID appends trace and correlation ids and a timestamp: noise in a message.
    first_line = re.split(r"\s*Trace ID:", description.splitlines()[0] if description else "")[0]
    fix = _AADSTS_FIXES.get(code.group(1)) if code else None
    return ConnectionFailed(
        f"{label}: Entra ID refused to sign in client {connection.client_id} of tenant "
        f"{connection.tenant}: {first_line}",
        fix=fix or "check tenant, client_id and the secret or certificate in p2c.yaml",
    )


class TokenProvider:
    """Access tokens for one environment (scope ``<url>/.default``), cached and refreshed.

    Args:
        connection: The connection settings.
        root: The workspace folder (secret and CA files are relative to it).
        label: How messages name the connection (``emulator/finops at https://…``).
        client: The httpx client the connector uses (same TLS settings).
    """

    def __init__(
        self, connection: _HttpConnection, root: Path, label: str, client: httpx.Client
    ) -> None:
        self.connection = connection
        self.root = root
        self.label = label
        self.client = client
        self.scope = f"{connection.environment_url}/.default"
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.acquired = 0  # tokens fetched from Entra ID (not from the cache)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            connection = self.connection
            credential: Any
            if connection.certificate_file:
                credential = _certificate(connection, self.root, self.label)
            else:
                credential = _read_secret(connection, self.root, self.label)
            authority = f"{connection.authority_host.rstrip('/')}/{connection.tenant}"
            try:
                self._app = msal.ConfidentialClientApplication(
                    connection.client_id,
                    client_credential=credential.get_secret_value()
                    if isinstance(credential, SecretStr)
                    else credential,
                    authority=authority,
                    instance_discovery=False,
                    http_client=_MsalHttp(self.client),
                )
            except httpx.TransportError as exc:
                raise unreachable(self.label, connection.authority_host, exc) from None
            except ValueError as exc:
                # MSAL says "OIDC Discovery failed" for an unknown tenant or a wrong host.
                text = str(exc)
                code = re.search(r"AADSTS\d+[^\"\\]*", text)
                raise ConnectionFailed(
                    f"{self.label}: Entra ID at {connection.authority_host} does not know tenant "
                    f"{connection.tenant}" + (f": {code.group(0).strip()}" if code else "."),
                    fix="check tenant and authority_host in p2c.yaml",
                ) from None
        return self._app

    def token(self) -> str:
        """A valid access token (from the cache when it has one)."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str) -> str:
        """A new token after ``stale`` was refused (once per stale token, whatever the threads)."""
        with self._lock:
            if self._token == stale:
                self._fetch(force=True)
            assert self._token is not None
            return self._token

    def _fetch(self, *, force: bool = False) -> None:
        app = self._application()
        if force:
            app.remove_tokens_for_client()
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except httpx.TransportError as exc:
            raise unreachable(self.label, self.connection.authority_host, exc) from None
        if "access_token" not in result:
            raise describe_sign_in_failure(self.label, self.connection, result)
        self.acquired += result.get("token_source") != "cache"
        lifetime = float(result.get("expires_in") or 3600)
        self._token = str(result["access_token"])
        self._expires = time.monotonic() + max(lifetime - _EARLY_REFRESH, lifetime / 2)


class BearerToken(httpx.Auth):
    """The access token on every API request; a 401 refreshes it once and resends (a token
    revoked, or expired earlier than it said). A second 401 goes back to the caller, for
    whom it means the environment does not accept the application.

    Not the client's default auth: MSAL signs in through the same client, without a token.
    """

    def __init__(self, tokens: TokenProvider) -> None:
        self.tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if classify(response.status_code, response.headers).action is Action.REFRESH_TOKEN:
            request.headers["Authorization"] = f"Bearer {self.tokens.refresh(token)}"
            yield request


def unreachable(label: str, url: str, exc: Exception) -> ConnectionFailed:
    """Why a host cannot be reached: name resolution, refused connection, certificate, time."""
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__context__, ssl.SSLError):
        return ConnectionFailed(
            f"{label}: the certificate of {url} is not trusted ({text}).",
            fix="for the emulator set ca_file: emulator/cert.pem; otherwise check the URL",
        )
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionFailed(
            f"{label}: {url} did not answer in time.",
            fix="check the URL and the network, or raise timeout in p2c.yaml",
        )
    return ConnectionFailed(
        f"{label}: cannot reach {url} ({text}).",
        fix="check the URL in p2c.yaml and that the environment (or `p2c emulator`) is running",
    )
