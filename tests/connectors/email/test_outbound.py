"""An agent's reply leaves by SMTP (a real server on loopback), threaded so
the customer's mail client shows one conversation; the customer's answer
to it comes back to the same case; a failure is recorded, not lost."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.events import EscalationRaised
from cases.models import Case, Message
from config import events
from tests import factories
from tests.connectors.email.conftest import MAILBOX, free_port, mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(mailbox, post_mail):
    """Jiří's mail, a reply in an existing thread, assigned to Ana at once."""
    factories.agent("ana")
    post_mail(
        mailbox,
        mail(
            subject="Objednávka 77",
            message_id="<c2@example.cz>",
            headers={"In-Reply-To": "<c1@example.cz>", "References": "<c0@example.cz> <c1@example.cz>"},
        ),
    )
    case = Case.objects.get()
    assert case.assignee is not None
    return case


def _reply(case, django_capture_on_commit_callbacks, text="Dobrý den, balík je na cestě."):
    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=timezone.now())
    message.refresh_from_db()
    return message


def test_reply_is_sent_by_smtp_threaded_to_the_customers_mail(case, smtp_server, django_capture_on_commit_callbacks):
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.SENT, message.delivery_error
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["jiri@example.cz"]
    sent = message_from_bytes(envelope.original_content)
    assert sent["Message-ID"].strip() == f"<{message.provider_message_id}>"
    assert message.provider_message_id.startswith(f"sb{message.pk}.")
    assert sent["In-Reply-To"].strip() == "<c2@example.cz>"
    assert sent["References"].split() == ["<c0@example.cz>", "<c1@example.cz>", "<c2@example.cz>"]
    assert str(make_header(decode_header(sent["Subject"]))) == f"Re: Objednávka 77 [#{case.pk}]"
    assert MAILBOX in sent["From"]
    assert "balík je na cestě" in sent.get_payload(decode=True).decode(sent.get_content_charset())


def test_the_customers_answer_to_our_reply_joins_the_case(
    case, smtp_server, post_mail, mailbox, django_capture_on_commit_callbacks
):
    message = _reply(case, django_capture_on_commit_callbacks)
    post_mail(
        mailbox,
        mail(
            message_id="<c3@example.cz>",
            subject=f"Re: Objednávka 77 [#{case.pk}]",
            headers={"In-Reply-To": f"<{message.provider_message_id}>"},
        ),
    )
    assert Message.objects.get(provider_message_id="c3@example.cz").case_id == case.pk
    assert Case.objects.count() == 1


def test_an_unreachable_server_is_tried_again_then_failed_and_escalated(
    case, settings, django_capture_on_commit_callbacks
):
    from connectors import services as connector_services

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5  # nobody listens
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"OUTBOUND_MAX_ATTEMPTS": 2, "OUTBOUND_RETRY_BASE_SECONDS": 0}
    seen: list[EscalationRaised] = []
    events.subscribe(EscalationRaised, seen.append)
    try:
        message = _reply(case, django_capture_on_commit_callbacks)
        assert message.delivery_status == Message.Delivery.QUEUED  # a connection refused may pass: tried again
        assert "ConnectionRefusedError" in message.delivery_error and seen == []
        with django_capture_on_commit_callbacks(execute=True):
            connector_services.retry_due_deliveries(now=timezone.now())
    finally:
        events.unsubscribe(EscalationRaised, seen.append)

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "ConnectionRefusedError" in message.delivery_error
    assert [(e.kind, e.case_id) for e in seen] == [("outbound_failed", case.pk)]


def test_a_recipient_the_server_refuses_for_good_fails_at_once(case, settings, django_capture_on_commit_callbacks):
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
            return "550 5.1.1 No such user here"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        message = _reply(case, django_capture_on_commit_callbacks)
    finally:
        controller.stop()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "No such user" in message.delivery_error


def test_a_channel_can_name_its_own_smtp_server(case, smtp_server, settings, django_capture_on_commit_callbacks):
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # the default server is down…
    case.channel.config = case.channel.config | {"smtp": {"host": "127.0.0.1", "port": port}}
    case.channel.save()

    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.SENT  # …the channel's own one is used
    assert len(smtp_server.envelopes) == 1
