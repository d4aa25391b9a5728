"""Starting the emulator: TLS, the services of a workspace, uvicorn on 127.0.0.1."""

from __future__ import annotations

__all__ = ["RunningEmulator", "build_app", "serve"]

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from cryptography import x509

from p2c._errors import ConfigError
from p2c.dynamics import CDS, FINOPS
from p2c.emulator._app import EmulatorApp, Service
from p2c.emulator._blobs import BlobFace, BlobStore
from p2c.emulator._dataverse import DataverseFace
from p2c.emulator._dmf import DataManagementService
from p2c.emulator._odata import KeyedFace, write_error
from p2c.emulator._pool import SystemPool
from p2c.emulator._protection import EmulatorStats, ServiceProtection, ServiceStats
from p2c.emulator._settings import (
    CLIENT_ID,
    DEFAULT_SECRET,
    SECRET_ENV,
    TENANT,
    EmulatorSettings,
)
from p2c.emulator._tls import ensure_certificate
from p2c.emulator._tokens import TokenService
from p2c.sandbox import CDSHub, FinOpsSandbox, SalesSandbox
from p2c.workspace import Workspace

HOST = "127.0.0.1"
FOLDER = "emulator"
CERTIFICATES = "app-certificates"
ROOTS = {"sales": "/sales/api/data/v9.2/", "finops": "/finops/data/", "cds": "/cds/data/"}
# Also served: the Web API's earlier versions, and F&O's metadata service.
PORT_SERVICES = ("sales", "finops", "cds")  # --layout ports: port + 1, + 2, + 3
MORE_ROOTS = {
    "sales": ("/sales/api/data/v9.0/", "/sales/api/data/v9.1/"),
    "finops": ("/finops/Metadata/",),
    "cds": ("/cds/Metadata/",),
}


@dataclass
class RunningEmulator:
    """A started emulator: where it is and how to sign in to it.

    Attributes:
        base_url: ``https://127.0.0.1:<port>``.
        ca_file: The certificate clients trust (``ca_file`` in p2c.yaml).
        tenant: Tenant of the local token endpoint.
        client_id: The accepted application.
        secret_env: Environment variable holding the client secret.
        settings: The settings it runs with.
        workspace_root: The workspace it serves.
        organizations: Organization mappings of the served connection set.
    """

    base_url: str
    ca_file: Path
    tenant: str
    client_id: str
    secret_env: str
    settings: EmulatorSettings
    workspace_root: Path
    organizations: list[dict[str, Any]] = field(default_factory=list)
    services: tuple[str, ...] = ("sales", "finops")
    # --layout ports: the URL of each service served at the root of its own port.
    service_urls: dict[str, str] = field(default_factory=dict)
    _protections: dict[str, ServiceProtection] = field(default_factory=dict, repr=False)
    _packages: DataManagementService | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, service: str) -> str:
        """The environment URL of a service (``{base}/sales``, or ``https://127.0.0.1:<port>``
        in the ports layout); its scope adds ``/.default``."""
        return self.service_urls.get(service) or f"{self.base_url}/{service}"

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters (requests, throttled, faults, ...)."""
        per = {name: ServiceStats(**vars(p.stats)) for name, p in self._protections.items()}
        return EmulatorStats(
            requests=sum(s.requests for s in per.values()),
            throttled=sum(s.throttled for s in per.values()),
            faults=sum(s.faults for s in per.values()),
            unauthorized=sum(s.unauthorized for s in per.values()),
            operations=sum(s.operations for s in per.values()),
            services=per,
        )

    def job_history(self) -> list[dict[str, Any]]:
        """F&O's data management executions, oldest first, as the workspace's job history
        export lists them (data project, status, counts)."""
        return self._packages.history() if self._packages is not None else []

    def connection_set(self) -> dict[str, Any]:
        """The connection set that points p2c at this emulator (as in p2c.yaml)."""
        try:
            ca_file = self.ca_file.relative_to(self.workspace_root).as_posix()
        except ValueError:
            ca_file = str(self.ca_file)
        auth = {
            "tenant": self.tenant,
            "client_id": self.client_id,
            "client_secret_env": self.secret_env,
            "authority_host": self.base_url,
            "ca_file": ca_file,
        }
        result: dict[str, Any] = {
            "sales": {"type": "dataverse", "url": self.url("sales"), **auth},
            "finops": {"type": "finops", "url": self.url("finops"), **auth},
        }
        if "cds" in self.services:
            result["cds"] = {"type": "finops", "url": self.url("cds"), **auth}
        result["organizations"] = self.organizations
        return result

    def connection_set_yaml(self, name: str = "emulator") -> str:
        """``connection_sets:`` YAML with this emulator as connection set ``name``."""
        return yaml.safe_dump(
            {"connection_sets": {name: self.connection_set()}}, sort_keys=False, width=100
        )


def _sandbox_path(ws: Workspace, connection_set: str, system: str) -> Path | None:
    connections = ws.connection_set(connection_set)
    connection = getattr(connections, system)
    if connection is None:
        return None
    path: Path | None = connection.kind.sandbox_path(connection, ws.root)
    if path is None:
        raise ConfigError(
            f"The {system} connection of {connection_set!r} is {connection.type}; the emulator "
            "serves the sandbox.",
            fix="pass --connection-set with a connection set of type sandbox",
        )
    return path


def app_certificates(folder: Path) -> list[x509.Certificate]:
    """The certificates registered for the application: PEM files in
    ``emulator/app-certificates/``, as uploaded under Certificates & secrets in Entra ID."""
    found = []
    for path in sorted((folder / CERTIFICATES).glob("*")):
        try:
            found.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError as exc:
            raise ConfigError(
                f"{path} is not a PEM certificate: {exc}.",
                fix="put the certificate's public part there, as -----BEGIN CERTIFICATE----- PEM",
            ) from None
    return found


def _sandbox_paths(ws: Workspace, name: str) -> tuple[Path, Path, Path | None]:
    """The Sales, F&O and CDS hub databases of a sandbox connection set (no hub: None),
    checked before any is opened: a missing one means `p2c init` has not run."""
    sales_path = _sandbox_path(ws, name, "sales")
    finops_path = _sandbox_path(ws, name, "finops")
    cds_path = _sandbox_path(ws, name, "cds")
    assert sales_path is not None and finops_path is not None
    for path in (sales_path, finops_path, cds_path):
        if path is not None and not path.exists():
            raise ConfigError(f"The sandbox database {path} does not exist.", fix="run `p2c init`")
    return sales_path, finops_path, cds_path


def _package_api(
    finops_face: KeyedFace,
    finops_pool: SystemPool[Any],
    settings: EmulatorSettings,
    protection: ServiceProtection,
) -> tuple[BlobStore, Service]:
    """F&O's package API on the F&O face, and the blob container its packages are uploaded
    to: a service of its own, as Azure storage is, reached by signed URLs."""
    blobs = BlobStore()
    finops_face.packages = DataManagementService(
        finops_pool,
        finops_face.entities,
        settings,
        blobs,
        lambda entity, message: str((write_error(entity, message).inner or {})["message"]),
    )
    return blobs, Service("blob", "finops", "/blob/", BlobFace(blobs), protection, signed=True)


def _cds_hub(
    path: Path, settings: EmulatorSettings, protection: ServiceProtection
) -> tuple[SystemPool[Any], Service]:
    """The CDS hub's pool and service: the shape of F&O OData over the hub's tables."""
    pool: SystemPool[Any] = SystemPool(lambda: CDSHub(path))
    service = Service(
        "cds",
        "finops",
        ROOTS["cds"],
        KeyedFace("cds", pool, settings, ROOTS["cds"], CDS.entities),
        protection,
        MORE_ROOTS["cds"],
    )
    return pool, service


def build_app(
    workspace_root: Path, settings: EmulatorSettings, secret: str
) -> tuple[EmulatorApp, list[SystemPool[Any]], dict[str, Any]]:
    """The ASGI app over a workspace's sandbox, its system pools, and facts for clients."""
    ws = Workspace.open(workspace_root)
    name = settings.connection_set
    sales_path, finops_path, cds_path = _sandbox_paths(ws, name)
    # What can be refused, before anything that must be closed (the package API's thread).
    certificates = app_certificates(workspace_root / FOLDER)
    organizations = [o.model_dump(mode="json") for o in ws.connection_set(name).organizations]
    pools: list[SystemPool[Any]] = []
    services: dict[str, Service] = {}

    def protection(index: int) -> ServiceProtection:
        return ServiceProtection(settings, settings.fault_seed + index)

    sales_pool: SystemPool[SalesSandbox] = SystemPool(lambda: SalesSandbox(sales_path))
    pools.append(sales_pool)
    services["sales"] = Service(
        "sales",
        "dataverse",
        ROOTS["sales"],
        DataverseFace(sales_pool, settings, ROOTS["sales"]),
        protection(0),
        MORE_ROOTS["sales"],
    )
    finops_pool: SystemPool[Any] = SystemPool(lambda: FinOpsSandbox(finops_path))
    pools.append(finops_pool)
    finops_face = KeyedFace("finops", finops_pool, settings, ROOTS["finops"], FINOPS.entities)
    services["finops"] = Service(
        "finops",
        "finops",
        ROOTS["finops"],
        finops_face,
        protection(1),
        MORE_ROOTS["finops"],
    )
    blobs, services["blob"] = _package_api(finops_face, finops_pool, settings, protection(3))
    if cds_path is not None:
        cds_pool, services["cds"] = _cds_hub(cds_path, settings, protection(2))
        pools.append(cds_pool)
    tokens = TokenService(
        TENANT,
        CLIENT_ID,
        secret,
        settings.token_lifetime,
        set(services),
        certificates,
    )
    app = EmulatorApp(tokens, services, settings)
    facts = {
        "organizations": organizations,
        "services": tuple(services),
        "protections": {n: s.protection for n, s in services.items()},
        "packages": finops_face.packages,
        "blobs": blobs,
    }
    return app, pools, facts


@contextmanager
def serve(
    workspace_root: Path, settings: EmulatorSettings | None = None
) -> Iterator[RunningEmulator]:
    """Serve a workspace's sandbox over HTTPS on 127.0.0.1 until the block ends.

    Args:
        workspace_root: The workspace folder (with p2c.yaml).
        settings: Limits, latency, faults, port (0: a free one).

    Yields:
        The running emulator: base URL, CA file, identities, counters.
    """
    settings = settings or EmulatorSettings()
    root = Path(workspace_root).resolve()
    secret = os.environ.get(SECRET_ENV) or DEFAULT_SECRET
    # Closed in reverse, however far the start got: the server, its sockets, then the app.
    with ExitStack() as held:
        app, pools, facts = build_app(root, settings, secret)
        held.callback(_close_app, pools, facts)
        cert, key = ensure_certificate(root / FOLDER)
        sockets = _bind(settings, facts["services"])
        held.callback(_close_sockets, sockets)
        port = sockets[0].getsockname()[1]
        service_urls = _at_ports(app, sockets[1:], facts["services"])
        if service_urls:
            app.tokens.authority = f"https://{HOST}:{port}"
        server = _https_server(app, port, cert, key)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="p2c-emulator", daemon=True
        )
        thread.start()
        held.callback(_stop_server, server, thread)
        while not server.started:
            if not thread.is_alive():
                raise ConfigError(f"The emulator did not start on {HOST}:{port}.")
            threading.Event().wait(0.01)
        yield RunningEmulator(
            base_url=f"https://{HOST}:{port}",
            ca_file=cert,
            tenant=TENANT,
            client_id=CLIENT_ID,
            secret_env=SECRET_ENV,
            settings=settings,
            workspace_root=root,
            organizations=facts["organizations"],
            services=facts["services"],
            _protections=facts["protections"],
            _packages=facts["packages"],
            service_urls=service_urls,
        )


def _bind(settings: EmulatorSettings, served: tuple[str, ...]) -> list[socket.socket]:
    """The listening sockets: the main port, then in the ports layout one per service of
    PORT_SERVICES that is served (at ``port`` + its place, or a free one when port is 0)."""
    sockets = [_bound_socket(settings.port)]
    if settings.layout == "ports":
        try:
            for place, name in enumerate(PORT_SERVICES, start=1):
                if name in served:
                    sockets.append(_bound_socket(settings.port + place if settings.port else 0))
        except ConfigError:
            for sock in sockets:
                sock.close()
            raise
    return sockets


def _at_ports(
    app: EmulatorApp, sockets: list[socket.socket], served: tuple[str, ...]
) -> dict[str, str]:
    """Serve each service at the root of its port; its URL by name (none in the paths
    layout)."""
    if not sockets:
        return {}
    names = [n for n in PORT_SERVICES if n in served]
    ports = {sock.getsockname()[1]: name for sock, name in zip(sockets, names, strict=True)}
    app.ports = ports
    app.tokens.ports = ports
    return {name: f"https://{HOST}:{port}" for port, name in ports.items()}


def _bound_socket(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (port 0: a free one), bound here rather than by
    uvicorn so that a port in use is a ConfigError and the chosen port is known at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: no Nagle delay between headers and body.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {HOST}:{port}: {exc.strerror}.",
            fix="choose another --port, or 0 for a free one",
        ) from None
    return sock


def _https_server(app: EmulatorApp, port: int, cert: Path, key: Path) -> uvicorn.Server:
    """uvicorn over TLS, quiet (the emulator prints its own lines), with a short graceful
    shutdown so that the end of a test does not wait on clients."""
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def _stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    # Forced: an idle keep-alive TLS connection would otherwise hold the shutdown until the
    # client answers the TLS close (clients that are not closed never do).
    server.should_exit = True
    server.force_exit = True
    thread.join(timeout=10)


def _close_sockets(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _close_app(pools: list[SystemPool[Any]], facts: dict[str, Any]) -> None:
    """Close what the app held: the package API, the sandboxes' pools, the blob folder."""
    facts["packages"].close()
    for pool in pools:
        pool.close()
    facts["blobs"].close()
