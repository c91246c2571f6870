"""The SMTP listener, driven by a real SMTP client on loopback: a message
is acknowledged only once stored, stored once, then normalized."""

from __future__ import annotations

import smtplib

import pytest

from cases.models import Case, Message
from connectors.email import smtp_server
from connectors.models import InboundEvent
from tests import factories
from tests.connectors.email.conftest import MAILBOX, free_port, mail

pytestmark = pytest.mark.django_db(transaction=True)  # the listener works in its own thread


@pytest.fixture
def listener(mailbox):
    factories.agent("ana")
    port = free_port()
    controller = smtp_server.make_controller(hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def _send(port: int, raw: bytes, to: list[str]) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail("jiri@example.cz", to, raw)


def test_mail_sent_to_the_mailbox_is_stored_and_opens_a_case(listener, mailbox):
    refused = _send(listener, mail(subject="Přes SMTP", text="Dobrý den"), [MAILBOX])

    assert refused == {}
    event = InboundEvent.objects.get()
    assert event.channel_id == mailbox.pk
    assert event.headers["X-Switchboard-Source"] == "smtp"
    assert event.headers["X-Envelope-Mail-From"] == "jiri@example.cz"
    assert event.remote_addr == "127.0.0.1"
    assert event.status == InboundEvent.Status.PROCESSED
    assert Message.objects.get().text == "Dobrý den"
    assert Case.objects.get().subject == "Přes SMTP"


def test_the_same_message_delivered_twice_is_stored_once(listener):
    _send(listener, mail(), [MAILBOX])
    _send(listener, mail(), [MAILBOX.upper()])
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_a_recipient_without_a_mailbox_here_is_refused(listener):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(listener, mail(), ["nobody@acme.test"])
    assert refused.value.recipients["nobody@acme.test"][0] == 550
    assert not InboundEvent.objects.exists()


def test_a_storage_failure_answers_451_so_the_sender_retries(listener, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(smtp_server, "store_mail", broken)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        _send(listener, mail(), [MAILBOX])
    assert failed.value.smtp_code == 451
    assert not InboundEvent.objects.exists()


def test_broken_mail_is_accepted_and_kept_with_its_error(listener):
    _send(listener, b"Subject: no sender at all\r\n\r\nbody\r\n", [MAILBOX])
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED and "no sender address" in event.error


def test_a_message_over_the_size_limit_is_refused_with_552(mailbox, settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"SMTPD_MAX_MESSAGE_BYTES": 2000}
    port = free_port()
    controller = smtp_server.make_controller(hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
            _send(port, mail(text="x" * 5000), [MAILBOX])
    finally:
        controller.stop()
    assert refused.value.smtp_code == 552
    assert not InboundEvent.objects.exists()
