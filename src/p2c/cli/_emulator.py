"""``p2c emulator``: serve the workspace's sandbox over HTTPS on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

__all__ = ["emulator"]

import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from p2c._errors import ConfigError
from p2c.cli._next import how_to_call
from p2c.cli._render import WorkspaceOption, out
from p2c.emulator import DEFAULT_SECRET, SECRET_ENV, EmulatorSettings, RunningEmulator, serve
from p2c.workspace import Workspace


def emulator(
    port: Annotated[
        int, typer.Option(help="TCP port on 127.0.0.1 (0: a free one).", min=0, max=65535)
    ] = 8443,
    connection_set: Annotated[
        str, typer.Option("--connection-set", "-c", help="The sandbox connection set to serve.")
    ] = "sandbox",
    requests_per_window: Annotated[
        int,
        typer.Option(
            help="Requests per service within the window (Dataverse: 6000).", min=1, max=10**9
        ),
    ] = 6000,
    window_seconds: Annotated[
        float,
        typer.Option(
            help="Sliding window of the request limit (Dataverse: 300).",
            min=0,
            max=86_400,
        ),
    ] = 300.0,
    max_concurrent: Annotated[
        int,
        typer.Option(help="Concurrent requests per service (Dataverse: 52).", min=1, max=10_000),
    ] = 52,
    latency_ms: Annotated[
        float,
        typer.Option(
            help="Latency added to every answer (at most a minute).",
            min=0,
            max=60_000,
        ),
    ] = 0.0,
    fault_rate: Annotated[
        float,
        typer.Option(
            help="Share of requests answered 503/500 (0 to 1, seeded).",
            min=0,
            max=1,
        ),
    ] = 0.0,
    dop_hint: Annotated[int, typer.Option(help="The x-ms-dop-hint header.", min=1, max=1000)] = 4,
    without_role: Annotated[
        list[str] | None,
        typer.Option(
            help="A service (sales, finops, cds) whose application user has no security role: "
            "requests after sign-in get 403. Repeatable."
        ),
    ] = None,
    layout: Annotated[
        Literal["paths", "ports"],
        typer.Option(
            help="paths: every service under a path of --port (/sales, /finops, /cds). "
            "ports: also each service at the root of its own port (Sales --port+1, "
            "F&O --port+2, CDS hub --port+3), as real environments sit at a host root."
        ),
    ] = "paths",
    workspace: WorkspaceOption = None,
) -> None:
    """Serve the sandbox as Dataverse (Sales), F&O OData and the CDS hub, with a local token
    endpoint, on 127.0.0.1 only, until Ctrl-C; print the connection set for p2c.yaml."""
    ws = Workspace.open(workspace)
    settings = _settings(
        port=port,
        connection_set=connection_set,
        requests_per_window=requests_per_window,
        window_seconds=window_seconds,
        max_concurrent=max_concurrent,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        dop_hint=dop_hint,
        without_role=tuple(without_role or ()),
        layout=layout,
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with serve(ws.root, settings) as running:
            _announce(ws.root, settings, running)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            stats = running.stats
            _say(
                f"Stopped: {stats.requests} requests, {stats.throttled} throttled, "
                f"{stats.faults} faults injected."
            )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _settings(**options: object) -> EmulatorSettings:
    """The options as settings; a value the settings refuse is named by its option, as the
    user typed it, rather than by the field."""
    try:
        return EmulatorSettings.model_validate(options)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(
            f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}.",
            fix="see `p2c emulator --help`",
        ) from None


def _announce(root: Path, settings: EmulatorSettings, running: RunningEmulator) -> None:
    """Where each service is served, the sign-in, the limits, how to point p2c at it and the
    connection set to paste: everything a user or a supervisor needs, before it serves."""
    _say(f"p2c emulator: serving {root} ({settings.connection_set}) at {running.base_url}")
    _say(f"  Sales, Dataverse Web API: {running.url('sales')}/api/data/v9.2/")
    _say(f"  Finance and Operations OData: {running.url('finops')}/data/")
    _say(
        "  F&O Data management package API: "
        f"{running.url('finops')}/data/DataManagementDefinitionGroups/…; "
        f"blobs at {running.url('finops').rsplit('/finops', 1)[0]}/blob/dmf/"
    )
    if "cds" in running.services:
        _say(f"  CDS hub (F&O OData shape): {running.url('cds')}/data/")
    _say(
        f"  Entra ID token endpoint: {running.base_url}/{running.tenant}/oauth2/v2.0/token"
        f" (client {running.client_id})"
    )
    _say(f"  client secret: {_secret_in_use()}")
    _say(
        f"  limits per service: {settings.requests_per_window} requests per "
        f"{settings.window_seconds:g} s, {settings.max_concurrent} concurrent; "
        f"latency {settings.latency_ms:g} ms; fault rate {settings.fault_rate:g}"
    )
    for line in _next_steps(root):
        _say(line)
    _say(running.connection_set_yaml())


def _secret_in_use() -> str:
    """The secret the token endpoint takes, or where it comes from: never the value of the
    variable (a real secret may be in it); the emulator's default is no secret."""
    if os.environ.get(SECRET_ENV):
        return f"the value of {SECRET_ENV} in this shell (not shown)"
    return f"{DEFAULT_SECRET} (the emulator's default; set {SECRET_ENV} to choose another)"


def _next_steps(root: Path) -> list[str]:
    """How to run p2c against it: the YAML below into p2c.yaml, the secret, the commands."""
    me, _ = how_to_call()
    folder = shlex.quote(str(root))
    value = "<the same value>" if os.environ.get(SECRET_ENV) else DEFAULT_SECRET
    return [
        "Add the connection set below to p2c.yaml; then, in the shell where p2c runs:",
        f"  export {SECRET_ENV}={value}",
        f"  {me} connections test -c emulator -w {folder}",
        f"  {me} run -c emulator -w {folder}",
        "Ctrl-C stops the emulator.\n",
    ]


def _say(text: str) -> None:
    # Flushed line by line, so that a supervisor reading the output sees the URL at once.
    out.print(text, markup=False, highlight=False)
    sys.stdout.flush()
