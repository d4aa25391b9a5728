"""``p2c emulator``: serves on 127.0.0.1 only, prints the connection set, stops on a signal."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def test_the_command_serves_loopback_only_and_prints_the_connection_set(workspace: Path) -> None:
    port = _free_port()
    secret = "command-test-secret"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2c",
            "emulator",
            "--port",
            str(port),
            "-w",
            str(workspace),
            "--requests-per-window",
            "100",
            "--window-seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "P2C_EMULATOR_SECRET": secret},
    )
    try:
        _wait_for(port, process)
        base = f"https://127.0.0.1:{port}"
        context = ssl.create_default_context(cafile=str(workspace / "emulator" / "cert.pem"))
        with httpx.Client(verify=context) as client:
            token = client.post(
                f"{base}/p2c-emulator/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "p2c-emulator-client",
                    "client_secret": secret,
                    "scope": f"{base}/finops/.default",
                },
            ).json()["access_token"]
            answer = client.get(
                f"{base}/finops/data/LegalEntities", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200
            assert "usmf" in {e["LegalEntityId"] for e in answer.json()["value"]}
        # Bound to 127.0.0.1 only: another loopback address finds nothing listening.
        try:
            socket.create_connection(("127.0.0.2", port), timeout=2).close()
            reachable = True
        except OSError:
            reachable = False
        assert not reachable
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"serving {workspace}" in stdout and base in stdout
    assert secret not in stdout + stderr
    block = stdout[stdout.index("connection_sets:") : stdout.index("Stopped:")]
    connections = yaml.safe_load(block)["connection_sets"]["emulator"]
    assert connections["sales"] == {
        "type": "dataverse",
        "url": f"{base}/sales",
        "tenant": "p2c-emulator",
        "client_id": "p2c-emulator-client",
        "client_secret_env": "P2C_EMULATOR_SECRET",
        "authority_host": base,
        "ca_file": "emulator/cert.pem",
    }
    assert connections["finops"]["url"] == f"{base}/finops"
    assert connections["cds"]["type"] == "finops"
    assert connections["organizations"] == [
        {"business_unit": "Contoso Sales", "legal_entity": "usmf", "cds_organization": "ORG001"}
    ]
    assert "Stopped: 1 requests" in stdout


def test_a_port_in_use_is_a_usage_error(workspace: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "p2c", "emulator", "--port", str(port), "-w", str(workspace)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_an_unknown_service_without_role_is_a_usage_error(workspace: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "p2c", "emulator", "--without-role", "crm", "-w", str(workspace)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--without-role" in result.stderr and "'sales'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_ports_layout_announces_a_host_root_per_service(workspace: Path) -> None:
    command = [sys.executable, "-m", "p2c", "emulator", "--port", "0", "--layout", "ports"]
    process = subprocess.Popen(
        [*command, "-w", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not lines or lines[-1].strip() != "Ctrl-C stops the emulator.":
            line = process.stdout.readline()
            assert line, process.communicate()  # the process ended before it announced
            lines.append(line)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    said = "".join(lines) + stdout
    block = said[said.index("connection_sets:") : said.index("Stopped:")]
    connections = yaml.safe_load(block)["connection_sets"]["emulator"]
    urls = [connections[s]["url"] for s in ("sales", "finops", "cds")]
    assert all(u.startswith("https://127.0.0.1:") and u.count("/") == 2 for u in urls)
    assert len(set(urls) | {connections["sales"]["authority_host"]}) == 4
    assert f"Sales, Dataverse Web API: {urls[0]}/api/data/v9.2/" in said
