"""Sign-in with a certificate, end to end: p2c's MSAL client assertion against the emulator's
token endpoint, which checks it as Entra ID does (registered thumbprint, signature,
audience, issuer, lifetime)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from connector_world import emulator_connections, use_connection_set
from cryptography.hazmat.primitives import serialization
from emulator_helpers import self_signed
from engine_scenarios import run_p2c

from p2c import ExitCode
from p2c.emulator import serve
from p2c.workspace import init_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    return root


def client_pem(workspace: Path, name: str, *, register: bool) -> Path:
    """A new certificate: its PEM with the private key for p2c and, when ``register``, its
    public part uploaded to the application (the emulator's app-certificates folder)."""
    key, certificate = self_signed(name)
    public = certificate.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = workspace / "keys" / f"{name}.pem"
    pem.parent.mkdir(exist_ok=True)
    pem.write_bytes(public + private)
    if register:
        registered = workspace / "emulator" / "app-certificates"
        registered.mkdir(parents=True, exist_ok=True)
        (registered / f"{name}.crt").write_bytes(public)
    return pem


def check_with(workspace: Path, pem: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """``p2c connections test`` with both connections signing in by certificate."""
    with serve(workspace) as running:
        connections = emulator_connections(running)
        for system in ("sales", "finops"):
            connections[system].pop("client_secret_env")
            connections[system].update(certificate_file=str(pem), **extra)
        use_connection_set(workspace, "emulator", connections)
        return run_p2c("connections", "test", "-c", "emulator", "-w", workspace)


def test_a_registered_certificate_signs_in(workspace: Path) -> None:
    checked = check_with(workspace, client_pem(workspace, "p2c-app", register=True))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("ok") == 2


def test_an_unregistered_certificate_is_explained(workspace: Path) -> None:
    client_pem(workspace, "registered", register=True)
    checked = check_with(workspace, client_pem(workspace, "other", register=False))
    assert checked.returncode == ExitCode.CONNECTION
    output = checked.stdout + checked.stderr
    assert "AADSTS700027" in output
    assert "not registered on the app" in output  # the fix p2c adds
    assert "PRIVATE KEY" not in output


def test_a_wrong_thumbprint_is_refused(workspace: Path) -> None:
    pem = client_pem(workspace, "p2c-app", register=True)
    checked = check_with(workspace, pem, certificate_thumbprint="AB" * 20)
    assert checked.returncode == ExitCode.CONNECTION
    assert "AADSTS700027" in checked.stdout + checked.stderr
    assert "ABABABAB" in checked.stdout + checked.stderr  # the thumbprint the client used


def test_an_encrypted_key_signs_in_with_its_password(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = client_pem(workspace, "p2c-app", register=True)
    key = serialization.load_pem_private_key(
        b"-----BEGIN PRIVATE KEY-----"
        + plain.read_bytes().split(b"-----BEGIN PRIVATE KEY-----")[1],
        None,
    )
    locked = workspace / "keys" / "locked.pem"
    locked.write_bytes(
        plain.read_bytes().split(b"-----BEGIN PRIVATE KEY-----")[0]
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret-key"),
        )
    )
    monkeypatch.setenv("P2C_KEY_PASSWORD", "s3cret-key")
    checked = check_with(workspace, locked, certificate_password_env="P2C_KEY_PASSWORD")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("ok") == 2
    monkeypatch.delenv("P2C_KEY_PASSWORD")
    unset = check_with(workspace, locked, certificate_password_env="P2C_KEY_PASSWORD")
    assert unset.returncode == ExitCode.CONNECTION
    assert "P2C_KEY_PASSWORD that holds the password" in unset.stdout + unset.stderr
