"""Serving: the service's loop and its HTTP API (uvicorn) in one process, until stopped."""

from __future__ import annotations

__all__ = ["RunningService", "serve"]

import ipaddress
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from p2c._errors import ConfigError
from p2c.service._api import build_api
from p2c.service._service import Service

log = logging.getLogger("p2c.service")


@dataclass(frozen=True)
class RunningService:
    service: Service
    url: str
    stopped_cleanly: threading.Event


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror}.",
            fix="choose another --port (0: a free one) or --host",
        ) from None
    return sock


@contextmanager
def serve(
    service: Service,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    tls: tuple[Path, Path] | None = None,
    app: ASGIApp | None = None,
) -> Iterator[RunningService]:
    """Start the scheduler and the API; stop both (runs cancelled) when the block ends.

    Args:
        service: The service of a workspace.
        host: Where to listen; loopback unless told otherwise.
        port: TCP port (0: a free one).
        tls: Certificate and key files, to serve HTTPS directly.
        app: What to serve (default: the API of :func:`build_api`); ``p2c serve`` passes
            the API with the admin center mounted.
    """
    if not _loopback(host) and tls is None:
        log.warning(
            "p2c serve listens on %s without TLS: API tokens would cross the network in the "
            "clear. Put a TLS-terminating proxy in front, or pass --tls-cert and --tls-key.",
            host,
        )
    sock = _listen(host, port)
    try:
        service.start()  # the lease first: a second service stops here, serving nothing
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app or build_api(service),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="p2c-api", daemon=True
    )
    thread.start()
    clean = threading.Event()
    try:
        while not server.started:
            if not thread.is_alive():
                raise ConfigError(f"The API did not start on {host}:{bound}.")
            threading.Event().wait(0.01)
        scheme = "https" if tls else "http"
        shown = f"[{host}]" if ":" in host else host
        yield RunningService(service, f"{scheme}://{shown}:{bound}", clean)
    finally:
        ended = service.stop()
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()
        service.close()
        if ended:
            clean.set()
