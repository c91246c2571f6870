"""Overlapping Meta batches arriving at once on PostgreSQL (each request in its
own thread and connection): every message is stored once, and no batch fails
because another stored one of its messages first."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client

from cases.models import Case, Customer, Message
from connectors.models import InboundEvent
from tests.connectors.meta.conftest import meta_channel, post, wa_message, whatsapp_body

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

SENDERS = 6


def test_overlapping_batches_at_once_store_each_message_once():
    assert connection.vendor == "postgresql"
    channel = meta_channel("wa", "whatsapp")
    bodies = []
    for i in range(SENDERS):
        body = whatsapp_body(wa_message("wamid.SHARED"), wa_message(f"wamid.OWN{i}"))
        body["entry"][0]["time"] = i  # another call each: deduped per message, not per call
        bodies.append(json.dumps(body).encode())
    barrier = threading.Barrier(SENDERS)
    statuses: Counter = Counter()
    errors: list[Exception] = []
    lock = threading.Lock()

    def send(body):
        try:
            client = Client()
            barrier.wait(timeout=10)
            response = post(client, channel, body)
            with lock:
                statuses[(response.status_code, response.json()["status"])] += 1
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
    assert statuses == Counter({(200, "accepted"): SENDERS})
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}
    assert Message.objects.filter(provider_message_id="wamid.SHARED").count() == 1
    assert Message.objects.count() == SENDERS + 1
    assert Case.objects.count() == 1
    assert Customer.objects.count() == 1
