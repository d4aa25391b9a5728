"""An emulated Azure blob container on the emulator's own HTTPS server (``{base}/blob/``).

F&O's ``GetAzureWriteUrl`` answers a blob URL with a shared access signature (SAS) in its
query; the client PUTs the data package there without a token, and F&O reads it from there
when it imports. Here the container is a folder, the signature an HMAC of the blob name,
the permissions and the expiry with the emulator's own key, checked on every request as
Azure checks a SAS: a wrong or expired signature is answered 403 ``AuthenticationFailed``
in Azure's XML error shape. Blobs are kept until the emulator stops (the documentation says
F&O keeps its files seven days).
"""

from __future__ import annotations

__all__ = ["BlobFace", "BlobStore"]

import base64
import hashlib
import hmac
import re
import secrets
import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from p2c.emulator._http import ApiError, Call, Reply

CONTAINER = "dmf"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$")
_VERSION = "2020-08-04"


class BlobStore:
    """The container's blobs in a temporary folder, and the signatures of their URLs.

    Args:
        lifetime: How long a signed URL is valid.
    """

    def __init__(self, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._closed = False

    @property
    def folder(self) -> Path:
        """Made when the package API is first used, so that an emulator that never uses it
        leaves nothing; after ``close``, a request still in flight is refused instead of
        making another."""
        with self._lock:
            if self._closed:
                raise ApiError(503, "The emulator is stopping.")
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="p2c-emulator-blobs-"))
            return self._folder

    def close(self) -> None:
        with self._lock:
            folder, self._folder, self._closed = self._folder, None, True
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def signed_url(self, base: str, name: str, permissions: str) -> str:
        """``{base}/blob/dmf/<name>?sv=…&se=…&sr=b&sp=…&sig=…``."""
        expiry = (datetime.now(UTC) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = {
            "sv": _VERSION,
            "se": expiry,
            "sr": "b",
            "sp": permissions,
            "sig": self._signature(name, permissions, expiry),
        }
        return f"{base}/blob/{CONTAINER}/{quote(name)}?{urlencode(query)}"

    def _signature(self, name: str, permissions: str, expiry: str) -> str:
        text = f"{CONTAINER}/{name}\n{permissions}\n{expiry}".encode()
        return base64.b64encode(hmac.new(self._key, text, hashlib.sha256).digest()).decode()

    def check(self, name: str, query: dict[str, str], permission: str) -> str | None:
        """Why a request with this SAS may not do ``permission`` (r or w); None if it may."""
        expiry, permissions = query.get("se", ""), query.get("sp", "")
        expected = self._signature(name, permissions, expiry)
        if not hmac.compare_digest(expected, query.get("sig", "")):
            return "Signature did not match. String to sign used was the blob's name."
        try:
            ends = datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "Signature fields not well formed."
        if ends < datetime.now(UTC):
            return "Signed expiry time must be after signed start time. The SAS has expired."
        if permission not in permissions:
            return "This request is not authorized to perform this operation using this permission."
        return None

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ApiError(400, f"The specifed resource name is not valid: {name!r}.")
        return self.folder / name

    def put(self, name: str, data: bytes) -> None:
        target = self.path(name)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def get(self, name: str) -> bytes | None:
        target = self.path(name)
        return target.read_bytes() if target.exists() else None


def _azure_error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Reply(status, {"Content-Type": "application/xml", "x-ms-error-code": code}, body)


class BlobFace:
    """Answers PUT (``x-ms-blob-type: BlockBlob``) and GET of one blob by its signed URL."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def handle(self, call: Call) -> tuple[Reply, int]:
        try:
            return self._handle(call), 1
        except ApiError as error:
            return self.render(error), 1

    def render(self, error: ApiError) -> Reply:
        code = "InvalidInput" if error.status == 400 else "InternalError"
        if error.status == 404:
            code = "BlobNotFound"
        return _azure_error(error.status, code, error.message)

    def _handle(self, call: Call) -> Reply:
        container, _, name = call.path.strip("/").partition("/")
        if container != CONTAINER or not name:
            return _azure_error(404, "ContainerNotFound", "The specified container does not exist.")
        permission = {"PUT": "w", "GET": "r"}.get(call.method)
        if permission is None:
            return _azure_error(405, "UnsupportedHttpVerb", f"{call.method} is not supported.")
        why = self.store.check(name, call.query, permission)
        if why is not None:
            return _azure_error(403, "AuthenticationFailed", why)
        if call.method == "PUT":
            if call.headers.get("x-ms-blob-type", "").lower() != "blockblob":
                return _azure_error(
                    400, "MissingRequiredHeader", "An HTTP header x-ms-blob-type is missing."
                )
            self.store.put(name, call.body)
            return Reply(201, {"Content-Length": "0", "x-ms-request-server-encrypted": "true"})
        data = self.store.get(name)
        if data is None:
            raise ApiError(404, "The specified blob does not exist.")
        content_type = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/zip"
        return Reply(200, {"Content-Type": content_type}, data)
