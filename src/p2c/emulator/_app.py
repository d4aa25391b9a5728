"""The emulator as an ASGI application: token endpoints and the three services.

The event loop does what is cheap (routing, tokens, service protection, latency); the
sandbox work runs on a bounded pool of worker threads, each with its own SQLite connections.
"""

from __future__ import annotations

__all__ = ["MAX_BODY", "EmulatorApp", "Service"]

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote

import anyio
import anyio.to_thread

from p2c.emulator._http import ApiError, Call, Reply, json_reply
from p2c.emulator._protection import Admission, ServiceProtection
from p2c.emulator._settings import EmulatorSettings
from p2c.emulator._tokens import TokenService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("p2c.emulator")

MAX_BODY = 32 << 20
"""The largest request body the emulator takes (32 MiB, INFERRED: about IIS's default
request limit of 30,000,000 bytes); a larger one is answered 413."""
_DRAIN = 4  # read and drop up to this many times the limit, so the client sees the 413


class Face(Protocol):
    def handle(self, call: Call) -> tuple[Reply, int]: ...

    def render(self, error: ApiError) -> Reply: ...


@dataclass
class Service:
    """One emulated service: its face, where it is served, and its limits."""

    name: str
    kind: Literal["dataverse", "finops"]
    root_path: str
    face: Face
    protection: ServiceProtection
    # Other roots served by the same face: older API versions, F&O's metadata service.
    more_roots: tuple[str, ...] = ()
    # Requests carry their own signature (a blob URL's SAS): no token is asked for.
    signed: bool = False

    def root_of(self, path: str) -> str | None:
        """The root a request path is under, or None."""
        for root in (self.root_path, *self.more_roots):
            if (path + "/").startswith(root):
                return root
        return None


class EmulatorApp:
    """ASGI application of the emulator.

    Args:
        tokens: The local Entra ID.
        services: Service name (first path segment) -> service.
        settings: Emulator settings.
        threads: Worker threads for sandbox work.
        max_body: The largest request body taken, in bytes; a larger one is answered 413.
        ports: Local port -> service served at the root of that port (``--layout ports``);
            requests to other ports are read as ``/<service>/...`` paths.
    """

    def __init__(
        self,
        tokens: TokenService,
        services: dict[str, Service],
        settings: EmulatorSettings,
        threads: int = 16,
        max_body: int = MAX_BODY,
        ports: dict[int, str] | None = None,
    ) -> None:
        self.tokens = tokens
        self.services = services
        self.settings = settings
        self.threads = threads
        self.max_body = max_body
        # --layout ports: the local port a request came in on -> the service at its root.
        self.ports = ports or {}
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            body = await _read_body(scope, receive, self.max_body)
            if body is None:
                reply = self._too_large(scope)
            else:
                reply = await self._dispatch(scope, body)
        except RecursionError:  # a structure nested past what Python walks: the client's fault
            reply = self._refuse(scope, ApiError(400, "The request nests too deeply to read."))
        except Exception:  # the server must answer, whatever broke
            log.exception("emulator: unexpected error")
            reply = json_reply(
                500, {"error": {"code": "0x80040216", "message": "An unexpected error occurred."}}
            )
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
        ]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    def _path(self, scope: Scope) -> tuple[str, str]:
        """The request path as the path layout reads it (``/sales/api/...``), and the prefix
        put in front of it for a service served at the root of its port ("" if none)."""
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        server = scope.get("server") or ("", None)
        name = self.ports.get(server[1]) if server[1] is not None else None
        if name is None:
            return path, ""
        first = unquote(path.split("/")[1]) if path.count("/") else ""
        signed = self.services.get(first)
        if signed is not None and signed.signed:
            return path, ""  # F&O's blob URLs, followed as F&O hands them out
        return f"/{name}{path}", f"/{name}"

    def _service_of(self, scope: Scope) -> Service | None:
        segments = self._path(scope)[0].split("/")
        return self.services.get(unquote(segments[1])) if len(segments) > 1 else None

    def _refuse(self, scope: Scope, error: ApiError) -> Reply:
        """A refusal in the shape of the service asked, or Entra ID's for anything else."""
        service = self._service_of(scope)
        if service is not None:
            return service.face.render(error)
        return json_reply(error.status, {"error": {"code": "BadRequest", "message": error.message}})

    def _too_large(self, scope: Scope) -> Reply:
        limit = self.max_body
        reply = self._refuse(
            scope,
            ApiError(
                413,
                f"The request body is larger than the limit of {limit:,} bytes "
                f"({limit >> 20} MiB); send fewer records per request or per $batch.",
            ),
        )
        # The rest of the body is not read: the connection ends with the answer.
        reply.headers["Connection"] = "close"
        return reply

    async def _dispatch(self, scope: Scope, body: bytes) -> Reply:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        path, prefix = self._path(scope)
        base = f"https://{headers.get('host', '127.0.0.1')}"
        segments = path.split("/")
        first = unquote(segments[1]) if len(segments) > 1 else ""
        service = self.services.get(first)
        if service is not None:
            return await self._serve(service, scope, headers, body, path, base, prefix)
        method = scope["method"]
        rest = "/".join(segments[2:])
        if rest == "v2.0/.well-known/openid-configuration" and method == "GET":
            return self.tokens.openid_configuration(first, base)
        if rest == "oauth2/v2.0/token" and method == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            return self.tokens.token(first, form, headers.get("authorization"), base)
        return json_reply(
            404,
            {
                "error": {
                    "code": "NotFound",
                    "message": f"Nothing is served at {path}. Services: "
                    + ", ".join(f"{base}{s.root_path}" for s in self.services.values())
                    + f"; token endpoint: {base}/{self.tokens.tenant}/oauth2/v2.0/token.",
                }
            },
        )

    async def _serve(
        self,
        service: Service,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        path: str,
        base: str,
        prefix: str = "",
    ) -> Reply:
        root_path = service.root_of(path)
        # The root as the client sees it: without the prefix of a port's service.
        root = base + (root_path or service.root_path)[len(prefix) :]
        if root_path is None:
            return service.face.render(
                ApiError(404, f"Resource not found for the segment '{path}'.", "0x8006088a")
            )
        protection = service.protection
        why = (
            None
            if service.signed
            else self.tokens.check(headers.get("authorization"), service.name)
        )
        if why is not None:
            protection.count_unauthorized()
            return self._unauthorized(service, why, base, prefix)
        if service.name in self.settings.without_role:
            return service.face.render(_no_role(service, path[len(service.root_path) :]))
        admission = protection.admit()
        if admission.limit is not None:
            return self._throttled(service, admission)
        try:
            if self.settings.latency_ms:
                await anyio.sleep(self.settings.latency_ms / 1000)
            if admission.fault is not None:
                return self._decorate(service, _fault(service, admission.fault), admission)
            try:
                query = _query(scope, service.kind)
            except ApiError as error:
                return service.face.render(error)
            call = Call(
                method=scope["method"],
                path=unquote(path[len(root_path) :]),
                query=query,
                headers=headers,
                body=body,
                root=root,
            )
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(self.threads)
            reply, operations = await anyio.to_thread.run_sync(
                service.face.handle, call, limiter=self._limiter
            )
            protection.count_operations(operations)
            return self._decorate(service, reply, admission)
        finally:
            protection.release()

    def _decorate(self, service: Service, reply: Reply, admission: Admission) -> Reply:
        if service.kind == "dataverse":
            reply.headers.update(
                {
                    "x-ms-dop-hint": str(self.settings.dop_hint),
                    "x-ms-ratelimit-burst-remaining-xrm-requests": str(admission.remaining),
                    "x-ms-ratelimit-time-remaining-xrm-requests": "1,200,000.00",
                    "REQ_ID": str(uuid.uuid4()),
                }
            )
        return reply

    def _unauthorized(self, service: Service, why: str, base: str, prefix: str) -> Reply:
        authority = self.tokens.authority or base
        resource = f"{base}/" if prefix else f"{base}/{service.name}/"
        challenge = (
            f"Bearer authorization_uri={authority}/{self.tokens.tenant}/oauth2/authorize, "
            f"resource_id={resource}"
        )
        if service.kind == "dataverse":
            return json_reply(
                401,
                {"error": {"code": "0x80072560", "message": why}},
                {"WWW-Authenticate": challenge},
            )
        return Reply(401, {"WWW-Authenticate": challenge, "Content-Length": "0"})

    def _throttled(self, service: Service, admission: Admission) -> Reply:
        s = self.settings
        headers = {"Retry-After": str(admission.retry_after)}
        if service.kind == "finops":
            return json_reply(429, {"error": {"code": "", "message": "Too many requests"}}, headers)
        if admission.limit == "concurrency":
            code, message = (
                "0x80072326",
                (f"Number of concurrent requests exceeded the limit of {s.max_concurrent}."),
            )
        else:
            code, message = (
                "0x80072322",
                (
                    f"Number of requests exceeded the limit of {s.requests_per_window} over time "
                    f"window of {s.window_seconds:g} seconds."
                ),
            )
        headers["x-ms-ratelimit-burst-remaining-xrm-requests"] = "0"
        return json_reply(429, {"error": {"code": code, "message": message}}, headers)


def _fault(service: Service, status: int) -> Reply:
    """An injected failure, answered before anything is read or written."""
    if service.kind == "dataverse":
        message = (
            "The service is temporarily unavailable. Retry the request after a short delay."
            if status == 503
            else "An unexpected error occurred."
        )
        reply = json_reply(status, {"error": {"code": "0x80040216", "message": message}})
    else:
        message = "The service is unavailable." if status == 503 else "An error has occurred."
        reply = json_reply(status, {"error": {"code": "", "message": message}})
    if status == 503:
        reply.headers["Retry-After"] = "1"
    return reply


def _no_role(service: Service, path: str) -> ApiError:
    """The refusal of a request by an application user without a security role."""
    table = path.split("(", 1)[0].split("?", 1)[0].strip("/") or "the service"
    if service.kind == "dataverse":
        return ApiError(
            403,
            "Principal user (Id=00000000-0000-0000-0000-00000000a991, type=8, roleCount=0, "
            f"privilegeCount=0, accessMode=4), is missing prvRead privilege on '{table}'.",
            "0x80040220",
        )
    return ApiError(
        403,
        f"Access denied: the user of the Microsoft Entra application has no security role "
        f"that grants access to '{table}'.",
    )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``. A larger body is read on
    and dropped (up to a few times the limit), so that a client that sends the whole body
    before it reads gets the 413 rather than a broken connection."""
    declared = dict(scope["headers"]).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > _DRAIN * limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > _DRAIN * limit or message["type"] == "http.disconnect":
            return None
        if not message.get("more_body"):
            break
    return b"".join(chunks) if size <= limit else None


def _query(scope: Scope, kind: str) -> dict[str, str]:
    """The query options, each at most once (INFERRED: ODataLib's refusal of a repeated one;
    a dict would silently keep the last)."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    if len(query) < len(pairs):
        seen: set[str] = set()
        twice = ""
        for name, _ in pairs:
            if name in seen:
                twice = name
                break
            seen.add(name)
        raise ApiError(
            400,
            f"Query option '{twice}' was specified more than once, but it must be specified at "
            "most once.",
            "0x80060888" if kind == "dataverse" else "",
        )
    return query
