"""The local Entra ID: MSAL signs in through it; wrong credentials and missing or foreign
tokens are refused in Entra ID's and the services' shapes."""

from __future__ import annotations

import hashlib
import time
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal  # type: ignore[import-untyped]
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from emulator_helpers import Api, self_signed, tls

from p2c.connectors._auth import _MsalHttp as MsalHttp  # the adapter p2c signs in through
from p2c.emulator import EmulatorSettings, RunningEmulator, serve


def _application(
    running: RunningEmulator, client: httpx.Client, secret: str
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        running.client_id,
        client_credential=secret,
        authority=f"{running.base_url}/{running.tenant}",
        instance_discovery=False,
        http_client=MsalHttp(client),
    )


def test_msal_signs_in_and_the_token_opens_the_service(running: RunningEmulator, api: Api) -> None:
    with httpx.Client(verify=tls(running)) as client:
        app = _application(running, client, api.secret)
        result = app.acquire_token_for_client(scopes=[f"{running.url('sales')}/.default"])
        assert result["token_type"] == "Bearer"
        assert result["expires_in"] > 3000
        who = client.get(
            api.url("sales", "WhoAmI"),
            headers={"Authorization": f"Bearer {result['access_token']}"},
        )
        assert who.status_code == 200
        assert set(who.json()) >= {"BusinessUnitId", "UserId", "OrganizationId"}
        # MSAL's cache answers the second call without the token endpoint.
        again = app.acquire_token_for_client(scopes=[f"{running.url('sales')}/.default"])
        assert again["access_token"] == result["access_token"]


def test_a_wrong_secret_is_an_aadsts_error(running: RunningEmulator) -> None:
    with httpx.Client(verify=tls(running)) as client:
        app = _application(running, client, "not-the-secret")
        result = app.acquire_token_for_client(scopes=[f"{running.url('finops')}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret")
    assert result["error_codes"] == [7000215]
    assert "not-the-secret" not in str(result)


def test_unknown_client_tenant_and_scope(running: RunningEmulator, api: Api) -> None:
    unknown = api.sign_in("sales", client_id="someone-else")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unauthorized_client"
    assert "AADSTS700016" in unknown.json()["error_description"]
    scope = api.sign_in("sales", scope="https://contoso.crm.dynamics.com/.default")
    assert scope.status_code == 400 and "AADSTS500011" in scope.json()["error_description"]
    tenant = api.client.post(
        f"{running.base_url}/contoso/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": running.client_id},
    )
    assert tenant.status_code == 400
    assert tenant.json()["error_description"].startswith("AADSTS90002: Tenant 'contoso' not found")
    config = api.client.get(
        f"{running.base_url}/{running.tenant}/v2.0/.well-known/openid-configuration"
    )
    assert config.json()["token_endpoint"] == (
        f"{running.base_url}/{running.tenant}/oauth2/v2.0/token"
    )
    assert config.json()["issuer"].startswith(running.base_url)


def test_msal_with_an_unknown_tenant_fails_discovery(running: RunningEmulator) -> None:
    with httpx.Client(verify=tls(running)) as client, pytest.raises(ValueError):
        msal.ConfidentialClientApplication(
            running.client_id,
            client_credential="x",
            authority=f"{running.base_url}/contoso",
            instance_discovery=False,
            http_client=MsalHttp(client),
        )


@pytest.mark.parametrize("service", ["sales", "finops", "cds"])
def test_requests_without_a_good_token_get_401(
    running: RunningEmulator, api: Api, service: str
) -> None:
    path = (
        "contacts" if service == "sales" else ("CustomersV2" if service == "finops" else "Contact")
    )
    none = api.client.get(api.url(service, path))
    assert none.status_code == 401
    assert none.headers["www-authenticate"].startswith("Bearer authorization_uri=")
    bad = api.client.get(api.url(service, path), headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401
    other = "finops" if service != "finops" else "sales"
    foreign = api.client.get(
        api.url(service, path), headers={"Authorization": f"Bearer {api.token(other)}"}
    )
    assert foreign.status_code == 401
    if service == "sales":
        assert none.json()["error"]["code"] == "0x80072560"
    assert api.get(service, path).status_code == 200
    assert running.stats.services[service].unauthorized == 3


def test_an_expired_token_gets_401(workspace: Path) -> None:
    with serve(workspace, EmulatorSettings(token_lifetime=1)) as running:
        api = Api(running)
        token = api.token("finops")
        assert api.get("finops", "LegalEntities").status_code == 200
        time.sleep(1.2)
        answer = api.client.get(
            api.url("finops", "LegalEntities"), headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401
        api.close()


# certificates -----------------------------------------------------------------------------------


@pytest.fixture
def registered(workspace: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A certificate uploaded for the application before the emulator starts."""
    key, certificate = self_signed("p2c test app")
    folder = workspace / "emulator" / "app-certificates"
    folder.mkdir(parents=True)
    (folder / "app.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _assertion(
    running: RunningEmulator,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha1(der) if algorithm == "RS256" else hashlib.sha256(der)
    header = "x5t" if algorithm == "RS256" else "x5t#S256"
    payload = {
        "aud": f"{running.base_url}/{running.tenant}/oauth2/v2.0/token",
        "iss": running.client_id,
        "sub": running.client_id,
        "exp": int(time.time()) + 600,
        "jti": "1",
        **claims,
    }
    thumbprint = urlsafe_b64encode(digest.digest()).decode()
    return jwt.encode(payload, key, algorithm=algorithm, headers={header: thumbprint})


def _sign_in_with(api: Api, assertion: str) -> httpx.Response:
    return api.sign_in(
        "sales",
        client_secret="",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
    )


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_a_client_assertion_of_a_registered_certificate_signs_in(
    registered: tuple[rsa.RSAPrivateKey, x509.Certificate],
    running: RunningEmulator,
    api: Api,
    algorithm: str,
) -> None:
    key, certificate = registered
    answer = _sign_in_with(api, _assertion(running, key, certificate, algorithm))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"aud": "https://login.microsoftonline.com/other/oauth2/v2.0/token"}, 50027),
        ({"exp": int(time.time()) - 600}, 700024),
        ({"iss": "someone-else", "sub": "someone-else"}, 700021),
    ],
)
def test_a_client_assertion_is_checked_as_entra_does(
    registered: tuple[rsa.RSAPrivateKey, x509.Certificate],
    running: RunningEmulator,
    api: Api,
    claims: dict[str, Any],
    code: int,
) -> None:
    key, certificate = registered
    answer = _sign_in_with(api, _assertion(running, key, certificate, **claims))
    assert answer.status_code == 401
    assert answer.json()["error_codes"] == [code]


def test_a_signature_by_another_key_is_refused(
    registered: tuple[rsa.RSAPrivateKey, x509.Certificate], running: RunningEmulator, api: Api
) -> None:
    _, certificate = registered
    other, _ = self_signed("another app")
    answer = _sign_in_with(api, _assertion(running, other, certificate))
    assert answer.status_code == 401
    assert answer.json()["error_codes"] == [700027]
    assert "signature does not match" in answer.json()["error_description"]
