"""Settings of the emulator and the identities it accepts."""

from __future__ import annotations

__all__ = [
    "CLIENT_ID",
    "DEFAULT_SECRET",
    "SECRET_ENV",
    "TENANT",
    "EmulatorSettings",
]

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TENANT = "p2c-emulator"
CLIENT_ID = "p2c-emulator-client"
SECRET_ENV = "P2C_EMULATOR_SECRET"
# Local only: the emulator serves loopback, and the value is documented.
DEFAULT_SECRET = "emulator-secret"


class EmulatorSettings(BaseModel):
    """How the emulator behaves; the defaults are the documented Dataverse limits.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        layout: ``paths``: every service on ``port`` under its own path (``/sales``,
            ``/finops``, ``/cds``); ``ports``: besides that, each service at the root of a
            port of its own (Sales ``port``+1, F&O ``port``+2, the CDS hub ``port``+3; free
            ones when ``port`` is 0), as real environments sit at a host root. The token
            endpoint stays on ``port``.
        connection_set: The workspace's connection set of type sandbox that is served.
        requests_per_window: Requests per user and service within ``window_seconds``
            (Dataverse: 6,000 per 300 s); over it, 429 with code 0x80072322.
        window_seconds: Length of the sliding window.
        max_concurrent: Requests in flight per service at once (Dataverse: 52); over it, 429
            with code 0x80072326.
        retry_after: Seconds to announce in ``Retry-After``; None computes them from the window.
        dop_hint: The ``x-ms-dop-hint`` header (recommended degree of parallelism).
        latency_ms: Added to every answer of a service, in milliseconds.
        fault_rate: Share of requests answered with a 503 or 500 before anything is done.
        fault_seed: Seed of the fault draw, so that a run is repeatable.
        token_lifetime: Seconds an access token is valid.
        page_size_max: Largest Dataverse page (``Prefer: odata.maxpagesize``).
        finops_page_size_max: Largest F&O and CDS page.
        batch_max_operations: Requests per Dataverse ``$batch``.
        default_company: The F&O company of the application user, used without
            ``cross-company=true``.
        without_role: Services where the application user has no security role: sign-in
            works, every request is then refused with 403 (Dataverse: 0x80040220, a missing
            privilege).
        odata_record_ms: The cost model: server time per record an F&O or CDS OData write
            creates or updates (each request of a ``$batch`` alike), slept by the worker
            thread that serves it.
        package_record_ms: The cost model: server time per record of a data package import
            (the staging and target steps, set-based).
        package_start_ms: The cost model: time before an import starts (the framework's
            batch job picks it up).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: int = Field(default=0, ge=0, le=65535)
    layout: Literal["paths", "ports"] = "paths"
    connection_set: str = "sandbox"
    requests_per_window: int = Field(default=6000, ge=1)
    window_seconds: float = Field(default=300.0, gt=0)
    max_concurrent: int = Field(default=52, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    dop_hint: int = Field(default=4, ge=1)
    latency_ms: float = Field(default=0.0, ge=0)
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    fault_seed: int = 0
    token_lifetime: int = Field(default=3600, ge=1)
    page_size_max: int = Field(default=5000, ge=1)
    finops_page_size_max: int = Field(default=10_000, ge=1)
    batch_max_operations: int = Field(default=1000, ge=1)
    default_company: str = "usmf"
    without_role: tuple[Literal["sales", "finops", "cds"], ...] = ()
    odata_record_ms: float = Field(default=0.0, ge=0)
    package_record_ms: float = Field(default=0.0, ge=0)
    package_start_ms: float = Field(default=0.0, ge=0)
