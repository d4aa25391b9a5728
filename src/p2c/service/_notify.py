"""Notifications at the end of a run: a mail to each address, and the same as JSON to a
webhook, on threads of their own so that a slow mail server or webhook never holds a run.

A webhook is tried again with exponential backoff on a connection failure, a 5xx or a 429.
A failure to notify is logged (without the password, and with the webhook's host only:
a webhook URL often carries its own secret) and counted in /metrics; it never stops the
service.
"""

from __future__ import annotations

__all__ = ["Notice", "Notifier", "redact_url"]

import email.policy
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx

from p2c.service._config import Notifications, Notify, Smtp
from p2c.service._metrics import Metrics

log = logging.getLogger("p2c.service")


def redact_url(url: str) -> str:
    """``https://host/…``: the scheme and host of a URL, never its path or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


@dataclass(frozen=True)
class Notice:
    """What a notification says.

    ``kind`` is ``run`` (a run ended) or ``paused`` (the threshold alert paused the
    project's schedule).
    """

    kind: str
    project: str
    status: str
    run_id: int | None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)  # record, field, reason
    link: str | None = None
    started_by: str | None = None
    message: str | None = None

    def subject(self) -> str:
        if self.kind == "paused":
            return f"p2c: {self.project} schedule paused"
        run = f" (run {self.run_id})" if self.run_id else ""
        return f"p2c: {self.project} {self.status}{run}"

    def text(self) -> str:
        lines = [f"Project: {self.project}", f"Status: {self.status}"]
        if self.run_id:
            lines.append(f"Run: {self.run_id}")
        if self.started_by:
            lines.append(f"Started by: {self.started_by}")
        if self.message:
            lines.append(f"Why: {self.message}")
        if self.counts:
            lines.append(
                "Counts: " + ", ".join(f"{name} {value:,}" for name, value in self.counts.items())
            )
        if self.errors:
            lines.append("")
            lines.append("First errors (record, field, reason):")
            lines.extend(
                f"  - {e.get('record')}, {e.get('field') or '-'}: {e.get('reason')}"
                for e in self.errors
            )
        if self.link:
            lines.extend(["", f"Details: {self.link}"])
        return "\n".join(lines) + "\n"


class Notifier:
    """Sends notices by mail and webhook in the background.

    Args:
        settings: The workspace's ``notifications`` (mail server, link).
        metrics: Where sent and failed notifications are counted.
        environ: Where the SMTP password is read (``password_env``).
        attempts: Webhook attempts before giving up.
        backoff: Seconds before the second attempt; doubled each time.
    """

    def __init__(
        self,
        settings: Notifications | None,
        metrics: Metrics,
        *,
        environ: Mapping[str, str] | None = None,
        attempts: int = 5,
        backoff: float = 2.0,
    ) -> None:
        self.settings = settings or Notifications()
        self.metrics = metrics
        self.environ = os.environ if environ is None else environ
        self.attempts = attempts
        self.backoff = backoff
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="p2c-notify")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def link(self, run_id: int | None) -> str | None:
        """The drill-through link of a run: ``link`` + ``/runs/{id}``."""
        if not self.settings.link or not run_id:
            return None
        return f"{self.settings.link}/runs/{run_id}"

    def send(self, notify: Notify, notice: Notice) -> None:
        """Queue a notice for each channel of ``notify``; returns at once."""
        if notify.email:
            self._submit(self._mail, list(notify.email), notice)
        if notify.webhook:
            self._submit(self._webhook, notify.webhook, notice)

    def _submit(self, function: Any, target: Any, notice: Notice) -> None:
        future = self._pool.submit(function, target, notice)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait for queued notices; whether all were handled in time."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except Exception:
                return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is being sent (without waiting out backoffs), then stop."""
        self._stop.set()
        self.flush(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # mail -----------------------------------------------------------------------------------

    def _mail(self, recipients: list[str], notice: Notice) -> None:
        smtp = self.settings.smtp
        if smtp is None:
            log.error("Cannot mail %s: p2c.yaml has no notifications.smtp", notice.subject())
            self.metrics.notifications.labels("email", "failed").inc()
            return
        # No folding below 998 characters: a long project name stays on the subject line.
        message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
        message["Subject"] = notice.subject()
        message["From"] = smtp.sender
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="p2c")
        message.set_content(notice.text())
        try:
            self._deliver(smtp, message)
        except (OSError, smtplib.SMTPException, _MissingPassword) as error:
            log.error(
                "Mail to %d recipient(s) through %s:%d failed: %s",
                len(recipients),
                smtp.host,
                smtp.port,
                _describe(error),
            )
            self.metrics.notifications.labels("email", "failed").inc()
            return
        self.metrics.notifications.labels("email", "sent").inc()

    def _deliver(self, smtp: Smtp, message: EmailMessage) -> None:
        password = None
        if smtp.password_env:
            password = self.environ.get(smtp.password_env)
            if password is None:
                raise _MissingPassword(f"the environment variable {smtp.password_env} is not set")
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=context)
            if smtp.username and password is not None:
                client.login(smtp.username, password)
            client.send_message(message)

    # webhook --------------------------------------------------------------------------------

    def _webhook(self, url: str, notice: Notice) -> None:
        body = {"event": f"p2c.{notice.kind}", **asdict(notice)}
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            problem = self._post(url, body)
            if problem is None:
                self.metrics.notifications.labels("webhook", "sent").inc()
                return
            final = problem.startswith("refused") or attempt == self.attempts
            if final or self._stop.is_set():
                log.error(
                    "Webhook %s for %s failed after %d attempt(s): %s",
                    redact_url(url),
                    notice.subject(),
                    attempt,
                    problem,
                )
                self.metrics.notifications.labels("webhook", "failed").inc()
                return
            self.metrics.webhook_retries.inc()
            if self._stop.wait(delay):
                delay = 0.0
            delay *= 2

    @staticmethod
    def _post(url: str, body: dict[str, Any]) -> str | None:
        """None when delivered; else what went wrong (``refused …`` is final)."""
        try:
            answer = httpx.post(url, json=body, timeout=10.0)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}"
        if answer.is_success:
            return None
        if answer.status_code in (408, 429) or answer.status_code >= 500:
            return f"HTTP {answer.status_code}"
        return f"refused: HTTP {answer.status_code}"


class _MissingPassword(Exception):
    pass


def _describe(error: BaseException) -> str:
    """What went wrong, without echoing what the server said back (it may quote us)."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return "the mail server refused the user name or password"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the mail server answered {error.smtp_code}"
    if isinstance(error, _MissingPassword):
        return str(error)
    strerror = getattr(error, "strerror", None)
    return type(error).__name__ + (f" ({strerror})" if strerror else "")
