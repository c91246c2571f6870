"""Webhooks arriving at once on PostgreSQL (each request in its own thread and
connection): a message delivered several times at once is stored once, and
first messages of one new sender make one customer and one case per thread."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client

from cases.models import Case, Customer, Identity, Message
from connectors.models import InboundEvent
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

SENDERS = 8


def _post_all_at_once(channel, bodies: list[dict]) -> Counter:
    barrier = threading.Barrier(len(bodies))
    statuses: Counter = Counter()
    errors: list[Exception] = []
    lock = threading.Lock()

    def send(body):
        try:
            client = Client()
            barrier.wait(timeout=10)
            response = factories.post_webhook(client, channel, body)
            with lock:
                statuses[response.status_code] += 1
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def test_message_delivered_many_times_at_once_is_stored_once():
    assert connection.vendor == "postgresql"
    channel = factories.channel("web", default_queue=factories.queue("General"))
    body = factories.payload(id="msg-1")

    statuses = _post_all_at_once(channel, [body] * SENDERS)

    assert statuses == Counter({202: 1, 200: SENDERS - 1})
    assert InboundEvent.objects.count() == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    assert Message.objects.count() == 1
    assert Case.objects.count() == 1
    assert Customer.objects.count() == 1


def test_first_messages_of_a_new_sender_at_once_make_one_customer_and_one_case():
    channel = factories.channel("web", default_queue=factories.queue("General"))
    bodies = [factories.payload(id=f"msg-{i}", thread="order-77") for i in range(SENDERS)]

    statuses = _post_all_at_once(channel, bodies)

    assert statuses == Counter({202: SENDERS})
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}
    assert Customer.objects.count() == 1
    assert Identity.objects.count() == 1
    case = Case.objects.get()
    assert case.messages.count() == SENDERS


def test_first_messages_of_a_new_sender_on_many_threads_make_one_customer():
    channel = factories.channel("web", default_queue=factories.queue("General"))
    bodies = [factories.payload(id=f"msg-{i}", thread=f"order-{i}") for i in range(SENDERS)]

    _post_all_at_once(channel, bodies)

    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}
    customer = Customer.objects.get()
    assert Case.objects.filter(customer=customer).count() == SENDERS
