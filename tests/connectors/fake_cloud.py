"""Entra ID and an API on httpx's MockTransport, in front of the real session code: for
fault shapes the emulator cannot produce."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from p2c.connectors import FinOpsConnection
from p2c.connectors._http import ApiSession

SECRET = "s3cr3t-value-never-shown"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeCloud:
    """Entra ID (discovery and token endpoints) plus an API answered by ``api``."""

    def __init__(self, api: Handler) -> None:
        self.api = api
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        base = f"https://{request.url.host}"
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": f"{base}/tenant/v2.0",
                    "authorization_endpoint": f"{base}/tenant/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/tenant/oauth2/v2.0/token",
                },
            )
        if path.endswith("/oauth2/v2.0/token"):
            assert SECRET in request.content.decode()
            self.tokens += 1
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "access_token": f"t{self.tokens}",
                },
            )
        return self.api(request)


def session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: Handler, **settings: object
) -> tuple[ApiSession, FakeCloud]:
    monkeypatch.setenv("P2C_TEST_SECRET", SECRET)
    connection = FinOpsConnection(
        type="finops",
        url="https://fo.example/",
        tenant="tenant",
        client_id="client",
        client_secret_env="P2C_TEST_SECRET",
        authority_host="https://login.example",
        **settings,  # type: ignore[arg-type]
    )
    cloud = FakeCloud(api)
    return (
        ApiSession(
            connection,
            tmp_path,
            "test/finops",
            "https://fo.example/data/",
            httpx.MockTransport(cloud),
        ),
        cloud,
    )
