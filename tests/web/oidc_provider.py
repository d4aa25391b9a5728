"""A small OpenID Connect provider for the tests, shaped as Entra ID's v2.0 endpoints of one
tenant: a real HTTP server on a free loopback port with OpenID discovery, an authorize
endpoint that signs in ``user`` at once, a token endpoint that checks the client secret, the
redirect URI and the PKCE verifier (S256), and id tokens signed with a test RSA key
published at its keys endpoint. Knobs make it misbehave: another signing key, another
audience, another nonce."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "a-client-secret-of-the-tests-0123456789"
KEY_ID = "test-key-1"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    """What the provider does, and what it was asked."""

    base: str = ""
    user: dict[str, Any] = field(
        default_factory=lambda: {"preferred_username": "Ada@Contoso.com", "name": "Ada"}
    )
    key: rsa.RSAPrivateKey = field(default_factory=_key)
    sign_with: rsa.RSAPrivateKey | None = None  # another key: a forged token
    audience: str | None = None  # another audience
    nonce: str | None = None  # another nonce
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"{self.base}/{TENANT}/v2.0"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/token",
            "jwks_uri": f"{self.base}/{TENANT}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def keys(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience or CLIENT_ID,
            "sub": "sub-" + str(self.user.get("preferred_username")),
            "tid": TENANT,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": self.nonce or grant["nonce"],
            **self.user,
        }
        key = self.sign_with or self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        provider = self.provider
        url = urlsplit(self.path)
        if url.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            self._json(200, provider.metadata())
        elif url.path == f"/{TENANT}/discovery/v2.0/keys":
            self._json(200, provider.keys())
        elif url.path == f"/{TENANT}/oauth2/v2.0/authorize":
            self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> None:
        provider = self.provider
        provider.authorize_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            self._json(400, {"error": "invalid_request"})
            return
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce"),
            "challenge": query.get("code_challenge"),
            "method": query.get("code_challenge_method"),
        }
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        provider = self.provider
        if urlsplit(self.path).path != f"/{TENANT}/oauth2/v2.0/token":
            self._json(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        provider.token_requests.append({**form, "client_id": client_id or ""})
        grant = provider.codes.pop(form.get("code", ""), None)
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            self._json(401, {"error": "invalid_client", "error_description": "bad secret"})
        elif grant is None or form.get("grant_type") != "authorization_code":
            self._json(400, {"error": "invalid_grant", "error_description": "unknown code"})
        elif form.get("redirect_uri") != grant["redirect_uri"]:
            self._json(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
        elif not _pkce_ok(grant, form.get("code_verifier")):
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE failed"})
        else:
            self._json(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "access_token": secrets.token_urlsafe(24),
                    "id_token": provider.id_token(grant),
                },
            )


def _pkce_ok(grant: dict[str, Any], verifier: str | None) -> bool:
    challenge: str | None = grant["challenge"]
    if grant["method"] != "S256" or not challenge or not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


@contextmanager
def oidc_provider() -> Iterator[Provider]:
    """The provider served on a free loopback port until the block ends."""
    provider = Provider()
    handler = type("Handler", (_Handler,), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    provider.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
