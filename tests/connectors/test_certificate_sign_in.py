"""Sign-in with a certificate, end to end: p2c's MSAL client assertion against the emulator's
token endpoint, which checks it as Entra ID does (registered thumbprint, signature,
audience, issuer, lifetime)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from connector_world import emulator_connections, use_connection_set
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from engine_scenarios import run_p2c

from p2c import ExitCode
from p2c.emulator import serve
from p2c.workspace import init_workspace


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate: (the client's PEM with certificate and key, the public
    certificate alone, as uploaded to the app registration)."""
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
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    public = certificate.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.pem").write_bytes(public + private)
    (folder / f"{name}.crt").write_bytes(public)
    return folder / f"{name}.pem", folder / f"{name}.crt"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    return root


def certificate_connections(running: object, pem: Path, **extra: str) -> dict[str, object]:
    connections = emulator_connections(running)
    for system in ("sales", "finops"):
        connections[system].pop("client_secret_env")
        connections[system].update(certificate_file=str(pem), **extra)
    return connections


def test_a_registered_certificate_signs_in(workspace: Path) -> None:
    pem, public = make_certificate(workspace / "keys", "p2c-app")
    registered = workspace / "emulator" / "app-certificates"
    registered.mkdir(parents=True)
    (registered / "p2c-app.crt").write_bytes(public.read_bytes())
    with serve(workspace) as running:
        use_connection_set(workspace, "emulator", certificate_connections(running, pem))
        checked = run_p2c("connections", "test", "-c", "emulator", "-w", workspace)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.count("ok") == 2
        assert running.stats.unauthorized == 0


def test_an_unregistered_certificate_is_explained(workspace: Path) -> None:
    _, public = make_certificate(workspace / "keys", "registered")
    other, _ = make_certificate(workspace / "keys", "other")
    registered = workspace / "emulator" / "app-certificates"
    registered.mkdir(parents=True)
    (registered / "registered.crt").write_bytes(public.read_bytes())
    with serve(workspace) as running:
        use_connection_set(workspace, "emulator", certificate_connections(running, other))
        checked = run_p2c("connections", "test", "-c", "emulator", "-w", workspace)
    assert checked.returncode == ExitCode.CONNECTION
    output = checked.stdout + checked.stderr
    assert "AADSTS700027" in output
    assert "not registered on the app" in output  # the fix p2c adds
    assert "PRIVATE KEY" not in output


def test_a_wrong_thumbprint_is_refused(workspace: Path) -> None:
    pem, public = make_certificate(workspace / "keys", "p2c-app")
    registered = workspace / "emulator" / "app-certificates"
    registered.mkdir(parents=True)
    (registered / "p2c-app.crt").write_bytes(public.read_bytes())
    with serve(workspace) as running:
        connections = certificate_connections(running, pem, certificate_thumbprint="AB" * 20)
        use_connection_set(workspace, "emulator", connections)
        checked = run_p2c("connections", "test", "-c", "emulator", "-w", workspace)
    assert checked.returncode == ExitCode.CONNECTION
    assert "AADSTS700027" in checked.stdout + checked.stderr
    assert "ABABABAB" in checked.stdout + checked.stderr  # the thumbprint the client used
