"""The local Entra ID: OpenID configuration and the client-credentials token endpoint.

Tokens are opaque random strings, bound to one service (the audience named by the scope,
``<environment url>/.default``) and valid ``token_lifetime`` seconds. The application signs
in with its client secret, or with a certificate registered for it: a client assertion
(RS256 or PS256) whose ``x5t`` or ``x5t#S256`` names the certificate, checked for its
signature, audience (the token endpoint), issuer, subject and lifetime. Errors carry Entra
ID's AADSTS codes and shape, so the client's handling of them is exercised too.
"""

from __future__ import annotations

__all__ = ["TokenService"]

import hashlib
import hmac
import secrets
import time
import uuid
from base64 import b64decode, urlsafe_b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from p2c.emulator._http import Reply, json_reply

_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class _Grant:
    service: str
    expires: float


class TokenService:
    """Issues and checks access tokens for the emulated services.

    Args:
        tenant: The one tenant served.
        client_id: The one application registered.
        secret: Its client secret (never logged or shown).
        lifetime: Seconds a token is valid.
        services: Service names a scope may name (``sales``, ``finops``, ``cds``).
        certificates: Certificates registered for the application (Certificates & secrets).
    """

    def __init__(
        self,
        tenant: str,
        client_id: str,
        secret: str,
        lifetime: int,
        services: set[str],
        certificates: Iterable[x509.Certificate] = (),
    ) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self._secret = secret
        # x5t (SHA-1) and x5t#S256 (SHA-256) thumbprints, base64url unpadded -> public key.
        self._keys: dict[str, Any] = {}
        for certificate in certificates:
            der = certificate.public_bytes(Encoding.DER)
            for digest in (hashlib.sha1(der, usedforsecurity=False), hashlib.sha256(der)):
                self._keys[_b64url(digest.digest())] = certificate.public_key()
        self.lifetime = lifetime
        self.services = services
        self._grants: dict[str, _Grant] = {}
        self.issued = 0
        # --layout ports: the port of each service served at a host root, so that its scope
        # is ``https://127.0.0.1:<port>/.default``; and the token endpoint's own address.
        self.ports: dict[int, str] = {}
        self.authority: str | None = None

    def __repr__(self) -> str:
        return f"TokenService(tenant={self.tenant!r}, client_id={self.client_id!r})"

    # endpoints -------------------------------------------------------------------------------

    def openid_configuration(self, tenant: str, base: str) -> Reply:
        if tenant != self.tenant:
            return self._error(400, "invalid_tenant", 90002, _no_tenant(tenant))
        root = f"{base}/{tenant}"
        return json_reply(
            200,
            {
                "issuer": f"{base}/{tenant}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "token"],
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                    "private_key_jwt",
                ],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "p2c-emulator",
            },
        )

    def token(
        self, tenant: str, form: dict[str, str], authorization: str | None, base: str
    ) -> Reply:
        """``POST /{tenant}/oauth2/v2.0/token`` with a form body; ``base`` is the emulator's
        address, of which the token endpoint is the audience of a client assertion."""
        if tenant != self.tenant:
            return self._error(400, "invalid_request", 90002, _no_tenant(tenant))
        if form.get("grant_type") != "client_credentials":
            return self._error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
            )
        client_id, secret = _client_credentials(form, authorization)
        refused = self._refuse_client(client_id, secret, form, f"{base}/{tenant}/oauth2/v2.0/token")
        if refused is not None:
            return refused
        scopes = form.get("scope", "").split()
        service = next((s for s in map(self._service_of, scopes) if s), None)
        if service is None:
            return self._error(
                400,
                "invalid_scope",
                500011,
                f"The resource principal named {' '.join(scopes) or '(none)'} was not found "
                f"in the tenant named {self.tenant}. Ask for <environment url>/.default, "
                f"where the environment is one of: {', '.join(sorted(self.services))}.",
            )
        return self._issue(service)

    def _refuse_client(
        self, client_id: str, secret: str | None, form: dict[str, str], audience: str
    ) -> Reply | None:
        """None when the application is the registered one and proves it, by a client
        assertion if it sends one, else by its secret; otherwise Entra's error."""
        if client_id != self.client_id:
            return self._error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant}'. This can happen if the application has not been installed "
                "by the administrator of the tenant.",
            )
        if form.get("client_assertion_type") == _JWT_BEARER:
            return self._check_assertion(form.get("client_assertion", ""), audience)
        if secret is None or not hmac.compare_digest(secret.encode(), self._secret.encode()):
            return self._error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to "
                f"app '{self.client_id}'.",
            )
        return None

    def _issue(self, service: str) -> Reply:
        """A new token for ``service``; expired grants are dropped here, so the table of
        grants stays as small as the tokens in use."""
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        self._grants = {t: g for t, g in self._grants.items() if g.expires > now}
        self._grants[token] = _Grant(service, now + self.lifetime)
        self.issued += 1
        return json_reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": token,
            },
            {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _check_assertion(self, assertion: str, audience: str) -> Reply | None:
        """None when the client assertion proves the application, else Entra's error."""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            return self._error(401, "invalid_client", 50027, f"JWT token is invalid: {exc}.")
        thumbprint = str(header.get("x5t#S256") or header.get("x5t") or "").rstrip("=")
        key = self._keys.get(thumbprint.replace("+", "-").replace("/", "_"))
        if key is None:
            return self._error(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. (Reason - The key was not "
                f"found., Thumbprint of key used by client: '{_hex(thumbprint)}'. Please "
                "visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
                f"configured keys for app Id '{self.client_id}'.)",
            )
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256", "PS256"],
                audience=audience,
                options={"require": ["aud", "iss", "sub", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            return self._error(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            )
        except jwt.InvalidSignatureError:
            return self._error(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. (Reason - The signature does "
                "not match the registered key.)",
            )
        except jwt.PyJWTError as exc:
            return self._error(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed: {exc}."
            )
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return self._error(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        return None

    # checking --------------------------------------------------------------------------------

    def check(self, authorization: str | None, service: str) -> str | None:
        """None when the bearer token is good for ``service``, else why not."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "No bearer token was sent in the Authorization header."
        grant = self._grants.get(authorization[7:].strip())
        if grant is None:
            return "The access token is not valid."
        if grant.expires <= time.monotonic():
            return "The access token is expired."
        if grant.service != service:
            return (
                f"The access token was issued for the audience '{grant.service}', not for "
                f"'{service}'."
            )
        return None

    def _service_of(self, scope: str) -> str | None:
        if not scope.endswith("/.default"):
            return None
        url = urlparse(scope[: -len("/.default")].rstrip("/"))
        parts = [p for p in url.path.split("/") if p]
        if not parts and url.scheme == "https":
            try:
                return self.ports.get(url.port or 443)
            except ValueError:  # a port that is not a number
                return None
        if url.scheme != "https" or len(parts) != 1 or parts[0] not in self.services:
            return None
        return parts[0]

    def _error(self, status: int, error: str, code: int, message: str) -> Reply:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return json_reply(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {message} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
        )


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str, str | None]:
    """The client id and secret: from the form (client_secret_post), or from HTTP Basic
    (client_secret_basic, form-encoded inside), which wins when both are sent."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, password = b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            user, password = "", ""
        client_id, secret = unquote(user.replace("+", " ")), unquote(password)
    return client_id, secret


def _b64url(raw: bytes) -> str:
    return urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _hex(thumbprint: str) -> str:
    """A base64url thumbprint as the hex Entra shows; the text itself when it is not one."""
    try:
        return b64decode(thumbprint + "=" * (-len(thumbprint) % 4), altchars=b"-_").hex().upper()
    except ValueError:
        return thumbprint


def _no_tenant(tenant: str) -> str:
    return (
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud."
    )
