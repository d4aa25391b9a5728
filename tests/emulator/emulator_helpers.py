"""Helpers of the emulator tests: an authenticated client, MSAL's http_client over httpx,
and ``$batch`` bodies built and read the way the OData documentation shows them."""

from __future__ import annotations

import json
import os
import re
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from p2c.emulator import DEFAULT_SECRET, SECRET_ENV, RunningEmulator

ROOTS = {"sales": "/sales/api/data/v9.2/", "finops": "/finops/data/", "cds": "/cds/data/"}
ACC = "11111111-1111-4111-8111-111111111111"
CON = "22222222-2222-4222-8222-222222222222"
KID = "33333333-3333-4333-8333-333333333333"
SOLO = "44444444-4444-4444-8444-444444444444"

# An account, a contact of it, a contact whose company is that contact, a contact alone.
DOCUMENT: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"accountid": ACC, "name": "Fabrikam", "address1_city": "Seattle"}],
    "contacts": [
        {
            "contactid": CON,
            "firstname": "Ann",
            "lastname": "Lee",
            "emailaddress1": "ann@example.com",
            "parentcustomerid_account@odata.bind": f"/accounts({ACC})",
        },
        {
            "contactid": KID,
            "firstname": "Bo",
            "lastname": "Berg",
            "parentcustomerid_contact@odata.bind": f"/contacts({CON})",
        },
        {"contactid": SOLO, "firstname": "Cy", "lastname": "Solo"},
    ],
}


def tls(running: RunningEmulator) -> ssl.SSLContext:
    """Trust the emulator's certificate (the connection setting ``ca_file``)."""
    return ssl.create_default_context(cafile=str(running.ca_file))


class Api:
    """An httpx client that signs in to the emulator's token endpoint per service."""

    def __init__(self, running: RunningEmulator, secret: str | None = None) -> None:
        self.running = running
        self.secret = secret or os.environ.get(SECRET_ENV) or DEFAULT_SECRET
        self.client = httpx.Client(verify=tls(running), timeout=60)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def sign_in(self, service: str, **form: str) -> httpx.Response:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.running.client_id,
            "client_secret": self.secret,
            "scope": f"{self.running.url(service)}/.default",
            **form,
        }
        return self.client.post(
            f"{self.running.base_url}/{self.running.tenant}/oauth2/v2.0/token", data=data
        )

    def token(self, service: str) -> str:
        if service not in self._tokens:
            answer = self.sign_in(service)
            assert answer.status_code == 200, answer.text
            self._tokens[service] = answer.json()["access_token"]
        return self._tokens[service]

    def url(self, service: str, path: str = "") -> str:
        return f"{self.running.base_url}{ROOTS[service]}{path}"

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.token(service)}", **(headers or {})}
        return self.client.request(method, self.url(service, path), headers=sent, **kwargs)

    def get(self, service: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(service, "GET", path, **kwargs)

    def pages(
        self, service: str, path: str, page_size: int, **params: str
    ) -> list[list[dict[str, Any]]]:
        """Every page of a collection, following @odata.nextLink."""
        headers = {
            "Authorization": f"Bearer {self.token(service)}",
            "Prefer": f"odata.maxpagesize={page_size}",
        }
        answer = self.client.get(self.url(service, path), params=params, headers=headers)
        pages = []
        while True:
            assert answer.status_code == 200, answer.text
            body = answer.json()
            pages.append(body["value"])
            link = body.get("@odata.nextLink")
            if not link:
                return pages
            answer = self.client.get(link, headers=headers)

    def batch(self, service: str, items: list[Any], **headers: str) -> list[dict[str, Any]]:
        content_type, body = batch_body(items)
        answer = self.request(
            service,
            "POST",
            "$batch",
            headers={"Content-Type": content_type, **headers},
            content=body,
        )
        assert answer.status_code == 200, answer.text
        return read_batch(answer)


def batch_body(items: list[Any]) -> tuple[str, bytes]:
    """A ``$batch`` body: each item a request ``(method, url, body)`` or a change set (a list
    of requests)."""
    lines: list[str] = []
    content_id = 0

    def request(method: str, url: str, body: Any, headers: dict[str, str] | None = None) -> None:
        nonlocal content_id
        content_id += 1
        lines.extend(
            [
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {content_id}",
                "",
                f"{method} {url} HTTP/1.1",
            ]
        )
        if body is not None:
            lines.append("Content-Type: application/json; type=entry")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        lines.append("")
        lines.append(json.dumps(body) if body is not None else "")

    for item in items:
        lines.append("--batch_p2c")
        if isinstance(item, list):
            lines.extend(["Content-Type: multipart/mixed; boundary=changeset_p2c", ""])
            for operation in item:
                lines.append("--changeset_p2c")
                request(*operation)
            lines.append("--changeset_p2c--")
        else:
            request(*item)
    lines.append("--batch_p2c--")
    return "multipart/mixed; boundary=batch_p2c", "\r\n".join(lines).encode()


def read_batch(answer: httpx.Response) -> list[dict[str, Any]]:
    """The responses of a ``$batch`` answer, change sets flattened, in order."""
    found = re.search(r"boundary=([^;]+)", answer.headers["content-type"])
    assert found
    out: list[dict[str, Any]] = []
    _read_parts(answer.content.decode(), found[1], out)
    return out


def _read_parts(text: str, boundary: str, out: list[dict[str, Any]]) -> None:
    for part in text.split(f"--{boundary}")[1:]:
        if part.startswith("--"):
            break
        head, _, content = part.strip("\r\n").partition("\r\n\r\n")
        inner = re.search(r"multipart/mixed; boundary=(\S+)", head)
        if inner:
            _read_parts(content, inner[1], out)
            continue
        status_block, _, body = content.partition("\r\n\r\n")
        status_line, *header_lines = status_block.split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        body = body.strip()
        out.append(
            {
                "status": int(status_line.split()[1]),
                "headers": headers,
                "json": json.loads(body) if body else None,
                "content_id": re.search(r"Content-ID: (\S+)", head)[1]  # type: ignore[index]
                if "Content-ID" in head
                else None,
            }
        )


def self_signed(name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An application's certificate and its key, valid for a day."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate
