"""Connection settings and project names refused when p2c.yaml is read: never echoing what
may be a secret, never with a traceback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from config_helpers import ACCOUNTS, Config, names_line, one_line, p2c
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2c import ExitCode

SECRET = "Abc8Q~kP3xVb.Zt-9sLq2Wc_RfYh"  # what a client secret looks like


def production(config: Config, **settings: str) -> None:
    """Add a connection set ``production`` (Dataverse and F&O) and point Accounts at it."""
    lines = [
        "  production:",
        "    sales:",
        "      type: dataverse",
        "      url: https://contoso.crm.dynamics.com",
        "      tenant: contoso.onmicrosoft.com",
        "      client_id: 11111111-2222-3333-4444-555555555555",
        *(f"      {key}: {value}" for key, value in settings.items()),
        "    finops:",
        "      type: finops",
        "      url: https://contoso.operations.dynamics.com",
        "      tenant: contoso.onmicrosoft.com",
        "      client_id: 11111111-2222-3333-4444-555555555555",
        "      client_secret_env: P2C_SECRET",
        "    organizations:",
        "    - {business_unit: Contoso Sales, legal_entity: usmf}",
    ]
    text = config.lines()
    at = text.index("state:")
    text[at:at] = lines
    config.save(text)


def pem(tmp: Path, name: str, *, key: bool = True, password: bytes | None = None) -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    data = certificate.public_bytes(serialization.Encoding.PEM)
    if key:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        data += private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    path = tmp / f"{name}.pem"
    path.write_bytes(data)
    return str(path)


def test_projects_with_the_same_name_are_refused(direct: Config) -> None:
    direct.replace("- name: Contacts (Sales to Fin and Ops) - Direct\n", f"- name: {ACCOUNTS}\n")
    message = direct.refused()
    names_line(message, direct, f"- name: {ACCOUNTS}", "projects.1.name")
    first = next(n for n, line in enumerate(direct.lines(), 1) if f"- name: {ACCOUNTS}" in line)
    assert f"project {ACCOUNTS!r} is defined twice (first at line {first})" in message


def test_a_secret_given_as_client_secret_env_is_refused_and_never_shown(direct: Config) -> None:
    production(direct, client_secret_env=SECRET)
    done = p2c("projects", "-w", direct.root)
    assert done.code == ExitCode.USAGE
    message = one_line(done.stderr)
    line = direct.line_of(f"client_secret_env: {SECRET}")
    assert f"line {line}, key connection_sets.production.sales.client_secret_env" in message
    assert "must be the name of an environment variable" in message
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_a_url_with_credentials_is_refused_and_the_password_never_shown(direct: Config) -> None:
    production(direct, client_secret_env="P2C_SECRET")
    direct.replace("https://contoso.crm", "https://admin:Hunter2Pass@contoso.crm")
    message = direct.refused()
    assert "key connection_sets.production.sales.url: url carries credentials" in message
    assert "Hunter2Pass" not in message
    assert "admin" not in message


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda tmp: pem(tmp, "nokey", key=False), "without its private key"),
        (lambda tmp: pem(tmp, "locked", password=b"s3cret"), "encrypted private key"),
        (lambda tmp: _write(tmp / "app.pfx", b"\x30\x82binary"), "is not a PEM file"),
    ],
)
def test_a_certificate_file_that_is_not_what_it_should_be(
    direct: Config, tmp_path: Path, make: object, says: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    production(direct, certificate_file=path)
    message = direct.refused()
    names_line(message, direct, "certificate_file:", "connection_sets.production.sales")
    assert says in message
    assert "PRIVATE KEY-----" not in message


def test_an_encrypted_key_with_its_password_passes(
    direct: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = pem(tmp_path, "locked", password=b"s3cret")
    production(direct, certificate_file=path, certificate_password_env="P2C_KEY_PASSWORD")
    monkeypatch.delenv("P2C_KEY_PASSWORD", raising=False)
    direct.opened()  # the password is checked when it is there
    monkeypatch.setenv("P2C_KEY_PASSWORD", "s3cret")
    direct.opened()
    monkeypatch.setenv("P2C_KEY_PASSWORD", "wrong")
    assert "the password in P2C_KEY_PASSWORD does not decrypt" in direct.refused()


def test_a_key_of_another_certificate_is_refused(direct: Config, tmp_path: Path) -> None:
    one, other = Path(pem(tmp_path, "one")), Path(pem(tmp_path, "other"))
    mixed = tmp_path / "mixed.pem"
    certificate = one.read_bytes().split(b"-----BEGIN PRIVATE KEY-----")[0]
    key = (
        b"-----BEGIN PRIVATE KEY-----" + other.read_bytes().split(b"-----BEGIN PRIVATE KEY-----")[1]
    )
    mixed.write_bytes(certificate + key)
    production(direct, certificate_file=str(mixed))
    assert "a private key that does not belong to its certificate" in direct.refused()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a certificate", "is not a PEM file"),
        (None, "holds a private key; a CA file holds certificates only"),
    ],
)
def test_a_ca_file_that_is_not_a_bundle_of_certificates(
    direct: Config, tmp_path: Path, content: bytes | None, says: str
) -> None:
    path = tmp_path / "ca.pem"
    if content is None:
        path = Path(pem(tmp_path, "ca"))  # a certificate with its key
    else:
        path.write_bytes(content)
    production(direct, client_secret_env="P2C_SECRET", ca_file=str(path))
    message = direct.refused()
    names_line(message, direct, "ca_file:", "connection_sets.production.sales.ca_file")
    assert says in message


def test_a_good_ca_file_passes(direct: Config, tmp_path: Path) -> None:
    path = Path(pem(tmp_path, "ca", key=False))
    production(direct, client_secret_env="P2C_SECRET", ca_file=str(path))
    direct.opened()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_secret_file_others_can_read_is_warned_about(
    direct: Config, caplog: pytest.LogCaptureFixture
) -> None:
    secret = direct.root / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o644)
    production(direct, client_secret_file="secret.txt")
    with caplog.at_level(logging.WARNING, logger="p2c.config"):
        direct.opened()  # a warning, not a refusal
    assert "client_secret_file secret.txt can be read by other accounts" in caplog.text
    assert "chmod 600 secret.txt" in caplog.text
    assert SECRET not in caplog.text
    caplog.clear()
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="p2c.config"):
        direct.opened()
    assert caplog.text == ""


def test_a_connection_of_a_type_that_does_not_serve_its_system(direct: Config) -> None:
    production(direct, client_secret_env="P2C_SECRET")
    direct.replace(
        "      type: finops\n      url: https://contoso.op",
        "      type: dataverse\n      url: https://contoso.op",
    )
    message = direct.refused()
    assert (
        "key connection_sets.production.finops.type: a dataverse connection does not write finops"
        in message
    )


def test_a_project_naming_an_unknown_connection_set(direct: Config) -> None:
    direct.replace("  connection_set: sandbox\n", "  connection_set: sandbx\n")
    message = direct.refused()
    names_line(message, direct, "connection_set: sandbx", "projects.0.connection_set")
    assert "did you mean 'sandbox'?" in message


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
