"""Connection settings that would fail only when a run signs in, or leak a secret: a
``client_secret_env`` that is no variable name (never echoed: it is probably the secret), a
URL with credentials in it, a certificate or CA file that is not what it should be, a
connection of a type that does not serve its system; and a warning for a client secret file
other accounts can read."""

from __future__ import annotations

__all__ = ["check_connections"]

import logging
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from p2c.config._problems import Loc, Problem

if TYPE_CHECKING:
    from p2c.workspace import WorkspaceConfig

log = logging.getLogger("p2c.config")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


def check_connections(config: WorkspaceConfig, root: Path) -> list[Problem]:
    """Problems of every connection of every connection set (files relative to ``root``)."""
    problems = []
    for name, connections in config.connection_sets.items():
        for system in ("sales", "finops", "cds"):
            connection = getattr(connections, system)
            if connection is None:
                continue
            loc: Loc = ("connection_sets", name, system)
            problems.extend(_serves(loc, connection, system))
            problems.extend(_secrets(loc, connection))
            problems.extend(_files(loc, connection, root))
    return problems


def _serves(loc: Loc, connection: Any, system: str) -> list[Problem]:
    kind = connection.kind
    needed = kind.systems if system == "sales" else kind.writes
    if system in needed and system in kind.systems:
        return []
    return [
        Problem(
            (*loc, "type"),
            f"a {kind.name} connection does not {'read' if system == 'sales' else 'write'} "
            f"{system}",
            f"{system} takes a connection of another type (docs/connectors.md lists them)",
        )
    ]


def _secrets(loc: Loc, connection: Any) -> list[Problem]:
    problems = []
    for key in ("client_secret_env", "certificate_password_env"):
        value = getattr(connection, key, None)
        if value is not None and not _VARIABLE.fullmatch(value):
            problems.append(
                Problem(
                    (*loc, key),
                    f"{key} must be the name of an environment variable (letters, digits and "
                    "_), and its value is not one; it may be the secret itself, so it is not "
                    "shown",
                    "put the secret in an environment variable and give its name here; if "
                    "the value was the secret, it is in p2c.yaml now: create a new one",
                )
            )
    for key in ("url", "authority_host"):
        value = getattr(connection, key, None)
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is not None and (parts.username or parts.password):
            shown = f"{parts.scheme}://…@{parts.hostname}"
            problems.append(
                Problem(
                    (*loc, key),
                    f"{key} carries credentials ({shown}); p2c signs in with the app's "
                    "secret or certificate, and p2c.yaml is no place for a password",
                    f"remove the user and password from {key}; if it was a password, change it",
                )
            )
    return problems


def _files(loc: Loc, connection: Any, root: Path) -> list[Problem]:
    """Certificate and CA files that exist but hold the wrong thing; a readable secret file
    is warned about. A file that does not exist is reported when a run signs in (exit 5)."""
    problems = []
    for key, check in (("certificate_file", _certificate), ("ca_file", _authorities)):
        value = getattr(connection, key, None)
        path = (root / value) if value else None
        if path is None or not path.is_file():
            continue
        wrong = check(path.read_bytes(), getattr(connection, "certificate_password_env", None))
        if wrong is not None:
            problems.append(Problem((*loc, key), f"{value} {wrong[0]}", wrong[1]))
    secret = getattr(connection, "client_secret_file", None)
    if secret and os.name == "posix" and (root / secret).is_file():
        mode = stat.S_IMODE((root / secret).stat().st_mode)
        if mode & 0o077:
            log.warning(
                "client_secret_file %s can be read by other accounts (mode %o); fix: chmod 600 %s",
                secret,
                mode,
                secret,
            )
    return problems


_PFX_FIX = (
    "certificate_file is one PEM file with the certificate and its private key; from a .pfx: "
    "openssl pkcs12 -in app.pfx -out app.pem -nodes"
)


def _certificate(data: bytes, password_env: str | None) -> tuple[str, str] | None:
    labels = {label.decode() for label in _PEM_LABEL.findall(data)}
    if not labels:
        return "is not a PEM file (no -----BEGIN …----- block)", _PFX_FIX
    if "CERTIFICATE" not in labels:
        return "holds no certificate", "put the certificate and its private key in one PEM file"
    if not any(label.endswith("PRIVATE KEY") for label in labels):
        return (
            "holds the certificate without its private key, which p2c signs in with",
            "append the private key to the PEM (cat app.crt app.key > app.pem; chmod 600)",
        )
    encrypted = "ENCRYPTED PRIVATE KEY" in labels or b"Proc-Type: 4,ENCRYPTED" in data
    if encrypted and not password_env:
        return (
            "holds an encrypted private key, and the connection names no password for it",
            "set certificate_password_env to the environment variable that holds the key's "
            "password, or decrypt the key (openssl pkey -in app.pem -out plain.pem)",
        )
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        return f"holds a certificate that cannot be read: {exc}", _PFX_FIX
    password = os.environ.get(password_env or "") if encrypted else None
    if encrypted and not password:
        return None  # checked when a run signs in, with the password set
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            return (
                f"holds a private key that the password in {password_env} does not decrypt",
                f"put the key's password in {password_env}",
            )
        return f"holds a private key that cannot be read: {exc}", _PFX_FIX
    der = serialization.Encoding.DER
    info = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(der, info) != certificate.public_key().public_bytes(der, info):
        return (
            "holds a private key that does not belong to its certificate",
            "put the certificate and its own private key in the file",
        )
    return None


def _authorities(data: bytes, _: str | None) -> tuple[str, str] | None:
    labels = {label.decode() for label in _PEM_LABEL.findall(data)}
    fix = "ca_file is a PEM file of the certificate authorities to trust (the emulator's: "
    fix += "emulator/cert.pem)"
    if not labels:
        return "is not a PEM file (no -----BEGIN CERTIFICATE----- block)", fix
    if any(label.endswith("PRIVATE KEY") for label in labels):
        return "holds a private key; a CA file holds certificates only", fix
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        return f"cannot be read: {exc}", fix
    return None
