"""OData ``$batch``: multipart/mixed requests with change sets, as Dataverse and F&O take them.

Each part is an ``application/http`` request, run through the same face as a request sent
alone. A change set (a nested multipart) is atomic: all its requests in one transaction, and
when one fails the whole set is rolled back and the batch answers that failure. The batch
stops at the first failure unless the client sends ``Prefer: odata.continue-on-error``.
"""

from __future__ import annotations

__all__ = ["BatchRunner", "Face", "Operation", "parse_batch"]

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from p2c.emulator._http import ApiError, Call, Reply, reason
from p2c.emulator._pool import SystemPool

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass
class Operation:
    """One request of a batch."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


def _boundary(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or not match:
        raise ApiError(
            400,
            "A $batch request needs Content-Type: multipart/mixed with a boundary.",
            "0x80048d19",
        )
    return match[1].strip()


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = re.compile(rb"(?m)^--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*\r?$")
    parts: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            chunk = body[start : match.start()]
            # The line break before a delimiter belongs to the delimiter.
            if chunk.endswith(b"\r\n"):
                chunk = chunk[:-2]
            elif chunk.endswith(b"\n"):
                chunk = chunk[:-1]
            parts.append(chunk)
        if match[1]:
            return parts
        start = match.end() + (2 if body[match.end() : match.end() + 2] == b"\r\n" else 1)
    if start is None:
        raise ApiError(400, f"The $batch body has no part with the boundary {boundary!r}.")
    raise ApiError(400, "The $batch body does not end with its closing boundary.")


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _split_head(part: bytes) -> tuple[bytes, bytes]:
    match = _HEAD_END.search(part)
    if match is None:
        return part, b""
    return part[: match.start()], part[match.end() :]


def _request_line(line: str) -> tuple[str, str]:
    """Method and URL of ``GET <url> HTTP/1.1``. The URL is all between the first space and
    the last, so that a client that leaves spaces unencoded in a query (``$filter=a eq 1``,
    as Microsoft's Python SDK does) is read whole (INFERRED: ODataLib's batch reader takes
    the request line apart at its first and last space)."""
    method, _, rest = line.strip().partition(" ")
    url, _, version = rest.rpartition(" ")
    if not version.upper().startswith("HTTP/"):
        url = rest
    url = url.strip()
    if not method or not url:
        raise ApiError(400, f"Cannot read the $batch request line {line!r}.")
    return method.upper(), url


def _operation(part: bytes) -> Operation:
    head, content = _split_head(part)
    part_headers = _headers(head)
    if not part_headers.get("content-type", "").lower().startswith("application/http"):
        raise ApiError(400, "Each $batch part must have Content-Type: application/http.")
    request, body = _split_head(content.lstrip(b"\r\n"))
    lines = request.decode("utf-8", "replace").splitlines()
    if not lines:
        raise ApiError(400, "A $batch part has no request line.")
    method, url = _request_line(lines[0])
    return Operation(
        method,
        url,
        _headers("\n".join(lines[1:]).encode()),
        body.rstrip(b"\r\n"),
        part_headers.get("content-id"),
    )


def parse_batch(content_type: str, body: bytes) -> list[Operation | ChangeSet]:
    """The requests and change sets of a ``$batch`` body, in order."""
    items: list[Operation | ChangeSet] = []
    for part in _parts(body, _boundary(content_type)):
        head, content = _split_head(part)
        part_type = _headers(head).get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            change_set = ChangeSet()
            for inner in _parts(content, _boundary(part_type)):
                change_set.operations.append(_operation(inner))
            items.append(change_set)
        else:
            items.append(_operation(part))
    return items


class BatchRunner:
    """Runs a parsed batch through a face.

    Args:
        root_path: The service root's path (``/sales/api/data/v9.2/``).
        execute: Answers one request (errors already rendered as replies).
        render: Renders an error in the face's shape.
        change_set: A context manager making its block one transaction.
        max_operations: Most requests a batch may hold.
        group: Runs independent writes together and answers each as if run alone (None
            when it cannot, e.g. two writes of one key); used with
            ``Prefer: odata.continue-on-error``, where each write stands alone.
    """

    def __init__(
        self,
        root_path: str,
        execute: Callable[[Call], Reply],
        render: Callable[[ApiError], Reply],
        change_set: Callable[[], AbstractContextManager[object]],
        max_operations: int | None,
        group: Callable[[list[Call]], list[Reply] | None] | None = None,
    ) -> None:
        self.root_path = root_path
        self.execute = execute
        self.render = render
        self.change_set = change_set
        self.max_operations = max_operations
        self.group = group

    def _run_one(
        self, batch: Call, operation: Operation, ids: dict[str, str], atomic: bool
    ) -> Reply:
        try:
            if atomic and operation.method == "GET":
                raise ApiError(400, "A change set cannot contain GET requests.")
            sub = self._call(batch, operation, ids)
        except ApiError as error:
            return self.render(error)
        sub.in_change_set = atomic
        return self.execute(sub)

    def run(self, call: Call) -> tuple[Reply, int]:
        """The batch's answer and how many requests ran."""
        items = parse_batch(call.headers.get("content-type", ""), call.body)
        self._check_size(items)
        go_on = call.prefers("odata.continue-on-error") is not None
        boundary = f"batchresponse_{uuid.uuid4()}"
        out: list[bytes] = []
        ran = 0
        pending: list[tuple[Operation, bool]] = []  # independent writes, run together

        def flush() -> None:
            nonlocal ran
            for (operation, atomic), reply in zip(
                pending, self._together(call, pending), strict=True
            ):
                ran += 1
                item = (operation.content_id, reply)
                wrapped = atomic and reply.status < 400
                out.append(_change_set_part(boundary, [item]) if wrapped else _part(boundary, item))
            pending.clear()

        for item in items:
            write = self._groupable(item) if go_on else None
            if write is not None:
                pending.append((write, isinstance(item, ChangeSet)))
                continue
            flush()
            if isinstance(item, ChangeSet):
                replies, failed = self._change_set(call, item)
                ran += len(replies)
                if failed is not None:
                    out.append(_part(boundary, failed))
                else:
                    out.append(_change_set_part(boundary, replies))
            else:
                reply = self._run_one(call, item, {}, atomic=False)
                ran += 1
                out.append(_part(boundary, (item.content_id, reply)))
                failed = (item.content_id, reply) if reply.status >= 400 else None
            if failed is not None and not go_on:
                break
        flush()
        out.append(f"--{boundary}--\r\n".encode())
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
        if go_on:
            headers["Preference-Applied"] = "odata.continue-on-error"
        return Reply(200, headers, b"".join(out)), ran

    def _check_size(self, items: list[Operation | ChangeSet]) -> None:
        """Refuses a batch of more requests than the service takes, counting those inside
        change sets, before any runs."""
        total = sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)
        if self.max_operations is not None and total > self.max_operations:
            raise ApiError(
                400,
                f"The batch holds {total} requests; the maximum number of requests in a "
                f"batch is {self.max_operations}.",
                "0x80060891",
            )

    def _groupable(self, item: Operation | ChangeSet) -> Operation | None:
        """The write that may run together with its neighbours: a create or update alone or
        alone in its change set, when the face can group; None for anything else."""
        single = (
            item.operations[0]
            if isinstance(item, ChangeSet) and len(item.operations) == 1
            else item
        )
        if self.group and isinstance(single, Operation) and single.method in ("POST", "PATCH"):
            return single
        return None

    def _together(self, batch: Call, pending: list[tuple[Operation, bool]]) -> list[Reply]:
        """Answers to independent writes: grouped when the face can, else one by one."""
        if not pending:
            return []
        calls: list[Call | Reply] = []
        for operation, atomic in pending:
            try:
                sub = self._call(batch, operation, {})
                sub.in_change_set = atomic
                calls.append(sub)
            except ApiError as error:
                calls.append(self.render(error))
        runnable = [c for c in calls if isinstance(c, Call)]
        grouped = self.group(runnable) if self.group and runnable else None
        if grouped is None:
            grouped = [self._alone(c) for c in runnable]
        answers = iter(grouped)
        return [next(answers) if isinstance(c, Call) else c for c in calls]

    def _alone(self, call: Call) -> Reply:
        if not call.in_change_set:
            return self.execute(call)
        try:
            with self.change_set():
                reply = self.execute(call)
                if reply.status >= 400:
                    raise _Failed(None, reply)
        except _Failed as failure:
            return failure.reply
        return reply

    def _change_set(
        self, call: Call, change_set: ChangeSet
    ) -> tuple[list[tuple[str | None, Reply]], tuple[str | None, Reply] | None]:
        replies: list[tuple[str | None, Reply]] = []
        ids: dict[str, str] = {}
        try:
            with self.change_set():
                for operation in change_set.operations:
                    reply = self._run_one(call, operation, ids, atomic=True)
                    replies.append((operation.content_id, reply))
                    if reply.status >= 400:
                        raise _Failed(operation.content_id, reply)
                    entity_id = reply.headers.get("OData-EntityId") or reply.headers.get("Location")
                    if operation.content_id and entity_id:
                        ids[operation.content_id] = entity_id
        except _Failed as failure:
            return replies, (failure.content_id, failure.reply)
        return replies, None

    def _call(self, batch: Call, operation: Operation, ids: dict[str, str]) -> Call:
        url = operation.url
        if url.startswith("$") and ids:
            head, sep, rest = url[1:].partition("/")
            if head in ids:
                url = ids[head] + (sep + rest if sep else "")
        parts = urlsplit(url)
        path = parts.path
        if parts.scheme or path.startswith("/"):
            # The root the batch itself was sent to: a path prefix or a host root (--layout).
            root_path = urlsplit(batch.root).path
            if not path.startswith(root_path):
                raise ApiError(
                    400, f"The $batch request {url!r} is not under the service root {batch.root!r}."
                )
            path = path[len(root_path) :]
        if path.rstrip("/") == "$batch":
            raise ApiError(400, "A batch cannot contain another batch.")
        body = operation.body
        if ids and b'"$' in body:
            body = _resolve_references(body, ids)
        return Call(
            method=operation.method,
            path=unquote(path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=operation.headers,
            body=body,
            root=batch.root,
        )


def _resolve_references(body: bytes, ids: dict[str, str]) -> bytes:
    """``"parentcustomerid_account@odata.bind": "$1"``: the record an earlier request of the
    change set created (by its Content-ID)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body  # the face reports the bad body
    if not isinstance(document, dict):
        return body
    for name, value in document.items():
        if isinstance(value, str) and value.startswith("$") and value[1:] in ids:
            document[name] = ids[value[1:]]
    return json.dumps(document).encode()


class _Failed(Exception):
    """Leaves a change set's transaction, which rolls it back."""

    def __init__(self, content_id: str | None, reply: Reply) -> None:
        super().__init__("change set failed")
        self.content_id = content_id
        self.reply = reply


def _http_block(content_id: str | None, reply: Reply) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {reply.status} {reason(reply.status)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body + b"\r\n"


def _part(boundary: str, item: tuple[str | None, Reply]) -> bytes:
    return f"--{boundary}\r\n".encode() + _http_block(*item)


def _change_set_part(boundary: str, replies: list[tuple[str | None, Reply]]) -> bytes:
    inner = f"changesetresponse_{uuid.uuid4()}"
    head = f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode()
    body = b"".join(f"--{inner}\r\n".encode() + _http_block(*r) for r in replies)
    return head + body + f"--{inner}--\r\n".encode()


class Face:
    """What every service face shares: a ``$batch`` goes through the batch runner, any other
    request to ``execute``. Subclasses answer requests and render errors in their API's
    shape; ``code`` is the error code of their generic refusals."""

    batches: BatchRunner
    pool: SystemPool[Any]
    code = ""

    @contextmanager
    def _change_set(self) -> Iterator[object]:
        """This thread's system in one transaction, one writer at a time."""
        system = self.pool.get()
        with self.pool.write_lock, system.store.transaction():
            yield system

    def execute(self, call: Call) -> Reply:
        raise NotImplementedError

    def render(self, error: ApiError) -> Reply:
        raise NotImplementedError

    def handle(self, call: Call) -> tuple[Reply, int]:
        """The answer to a request and how many operations ran (a batch runs several)."""
        if call.path == "$batch":
            if call.method != "POST":
                return self.render(ApiError(405, "$batch takes POST.", self.code)), 0
            try:
                return self.batches.run(call)
            except ApiError as error:
                return self.render(error), 0
        return self.execute(call), 1
