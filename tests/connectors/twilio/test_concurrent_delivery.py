"""Several workers (the first task, the tick, a redelivered Celery task) try
to send the same queued reply at once on PostgreSQL: Twilio gets it once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from cases import services as case_services
from cases.models import Message
from cases.normalized import MessageKind, NormalizedMessage, Sender
from connectors.models import Channel
from connectors.services import deliver_message
from tests.connectors.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

WORKERS = 4


@pytest.mark.parametrize("answer", [201, 500], ids=["sent", "retry"])
def test_one_queued_reply_is_sent_once_by_concurrent_workers(twilio_api, answer):
    assert connection.vendor == "postgresql"
    twilio_api.answers = [(answer, {})]
    channel = Channel.objects.create(
        key="twilio-sms",
        name="SMS",
        kind="sms",
        provider="twilio",
        secret=AUTH_TOKEN,
        config={"account_sid": ACCOUNT_SID, "api_base": twilio_api.base, "from": "+15005550006"},
    )
    now = timezone.now()
    with transaction.atomic():
        received = case_services.receive_message(
            channel=channel,
            normalized=NormalizedMessage(
                kind=MessageKind.MESSAGE,
                channel_kind="sms",
                provider="twilio",
                external_id="SM1",
                sender=Sender("phone", "+14155550100"),
                text="hi",
            ),
            now=now,
        )
    reply = Message.objects.create(
        case=received.case,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
        channel_kind="sms",
        text="hello",
        delivery_status=Message.Delivery.QUEUED,
        created_at=now,
    )
    barrier = threading.Barrier(WORKERS)
    errors: list[Exception] = []

    def work():
        try:
            barrier.wait()
            deliver_message(message_id=reply.pk, now=timezone.now())
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(twilio_api.requests) == 1
    reply.refresh_from_db()
    expected = Message.Delivery.SENT if answer == 201 else Message.Delivery.QUEUED
    assert reply.delivery_status == expected
    assert reply.delivery_attempt.attempts == 1
