"""Notifications for real: a mail server (aiosmtpd) on loopback receives the mail, an HTTP
receiver the webhook; failures are logged and counted, never fatal, never holding a run."""

from __future__ import annotations

import email.policy
import logging
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from service_world import ACCOUNTS, CUSTOMERS, Receiver, World, free_port

from p2c.service import Service
from p2c.service._runner import RunRequest

PASSWORD = "s3cret-PASSWORD"
BAD_GROUP = {"ContactToCustomer": {"map": {"CustomerGroupId": {"default": "99"}}}}


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 OK"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == PASSWORD.encode(), handled=False)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box, auth_require_tls=False
    )
    controller.start()
    yield box, port
    controller.stop()


def configure(world: World, port: int, notify: dict[str, Any]) -> None:
    world.project(CUSTOMERS, tasks=BAD_GROUP, notify=notify)
    world.edit(
        lambda d: d.update(
            notifications={
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "starttls": False,
                    "username": "p2c",
                    "password_env": "P2C_SMTP_PASSWORD",
                    "sender": "p2c <p2c@contoso.com>",
                },
                "link": "https://p2c.contoso.com/",
            }
        )
    )


def run(service: Service, project: str) -> int:
    job = service.submit(RunRequest((project,), "test"))
    assert service.wait_idle(60)
    assert job.run_id is not None
    return job.run_id


def test_a_run_that_ends_in_error_is_mailed_to_every_recipient(
    world: World, mailbox: tuple[Mailbox, int], make_service: Callable[..., Service]
) -> None:
    box, port = mailbox
    configure(
        world, port, {"on": ["warning", "error"], "email": ["ops@contoso.com", "sales@contoso.com"]}
    )
    world.project(ACCOUNTS, notify={"on": ["warning", "error"], "email": ["ops@contoso.com"]})
    service = make_service(environ={"P2C_SMTP_PASSWORD": PASSWORD})
    run(service, ACCOUNTS)  # Completed: not in `on`, no mail
    run_id = run(service, CUSTOMERS)
    assert service.notifier.flush(30)
    assert len(box.messages) == 1
    recipients, mail = box.messages[0]
    assert recipients == ["ops@contoso.com", "sales@contoso.com"]
    assert mail["To"] == "ops@contoso.com, sales@contoso.com"
    assert mail["Subject"] == f"p2c: {CUSTOMERS} Error (run {run_id})"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"Project: {CUSTOMERS}" in body and "Status: Error" in body
    assert "Counts: read 8, created 0" in body and "failed 8" in body
    assert "First errors (record, field, reason):" in body
    assert ", CustomerGroupId: " in body
    assert f"Details: https://p2c.contoso.com/runs/{run_id}" in body
    assert box.logins == [(b"p2c", PASSWORD.encode())]
    assert PASSWORD not in mail.as_string()
    metrics = service.metrics.render().decode()
    assert 'p2c_notifications_total{channel="email",outcome="sent"} 1.0' in metrics


def test_a_mail_that_cannot_be_sent_is_logged_and_counted(
    world: World,
    mailbox: tuple[Mailbox, int],
    make_service: Callable[..., Service],
    caplog: pytest.LogCaptureFixture,
) -> None:
    box, port = mailbox
    configure(world, port, {"on": ["error"], "email": ["ops@contoso.com"]})
    service = make_service(environ={"P2C_SMTP_PASSWORD": "wrong-" + PASSWORD})
    run(service, ACCOUNTS)
    with caplog.at_level(logging.ERROR, logger="p2c.service"):
        run(service, CUSTOMERS)
        assert service.notifier.flush(30)
        run(service, ACCOUNTS)  # the service goes on
        assert service.notifier.flush(30)
    assert box.messages == []
    metrics = service.metrics.render().decode()
    assert 'p2c_notifications_total{channel="email",outcome="failed"} 1.0' in metrics
    assert "refused the user name or password" in caplog.text
    assert PASSWORD not in caplog.text
    unset = make_service(environ={})
    job = unset.submit(RunRequest((CUSTOMERS,), "test", full=True))
    assert unset.wait_idle(60) and job.report is not None and job.report.status == "Error"
    assert unset.notifier.flush(30)
    assert "P2C_SMTP_PASSWORD is not set" in caplog.text


def test_a_webhook_is_retried_with_backoff_and_gets_the_same_as_json(
    world: World, make_service: Callable[..., Service]
) -> None:
    receiver = Receiver(failures=2)
    try:
        world.project(CUSTOMERS, tasks=BAD_GROUP, notify={"on": ["error"], "webhook": receiver.url})
        world.edit(lambda d: d.update(notifications={"link": "https://p2c.contoso.com"}))
        service = make_service()
        run(service, ACCOUNTS)
        run_id = run(service, CUSTOMERS)
        (body,) = receiver.wait(1)
    finally:
        receiver.close()
    assert receiver.attempts == 3
    assert body["event"] == "p2c.run"
    assert body["project"] == CUSTOMERS and body["status"] == "Error"
    assert body["run_id"] == run_id
    assert body["counts"]["failed"] == 8
    assert body["errors"][0]["field"] == "CustomerGroupId"
    assert set(body["errors"][0]) == {"record", "field", "reason"}
    assert body["link"] == f"https://p2c.contoso.com/runs/{run_id}"
    metrics = service.metrics.render().decode()
    assert "p2c_webhook_retries_total 2.0" in metrics


def test_a_webhook_that_is_down_never_holds_a_run_and_is_counted(
    world: World, make_service: Callable[..., Service], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/T0KEN"
    world.project(CUSTOMERS, tasks=BAD_GROUP, notify={"on": ["error"], "webhook": url})
    service = make_service(webhook_backoff=0.3)
    run(service, ACCOUNTS)
    began = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="p2c.service"):
        run(service, CUSTOMERS)
        ran = time.monotonic() - began
        assert service.notifier.flush(30)
    assert ran < 2.0  # the run did not wait for the backoffs (0.3 + 0.6 + 1.2 + 2.4 s)
    metrics = service.metrics.render().decode()
    assert 'p2c_notifications_total{channel="webhook",outcome="failed"} 1.0' in metrics
    assert "T0KEN" not in caplog.text and "127.0.0.1" in caplog.text
