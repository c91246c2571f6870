"""Mail stored at once on PostgreSQL (each in its own thread and connection,
as the SMTP listener, the IMAP poller and the hook do): the same message at
once is stored once; the messages of one new thread make one case."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.models import Case, Customer, Message
from connectors.email.inbound import store_mail
from connectors.models import InboundEvent
from tests.connectors.email.conftest import mail

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

AT_ONCE = 8


def _store_all_at_once(channel, raws: list[bytes]) -> Counter:
    barrier = threading.Barrier(len(raws))
    statuses: Counter = Counter()
    errors: list[Exception] = []
    lock = threading.Lock()

    def store(raw: bytes, source: str):
        try:
            barrier.wait(timeout=10)
            result = store_mail(channel=channel, raw=raw, source=source, now=timezone.now())
            with lock:
                statuses[result.status] += 1
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store, args=(raw, "smtp" if i % 2 else "imap")) for i, raw in enumerate(raws)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def test_the_same_mail_by_several_routes_at_once_is_stored_once(mailbox):
    assert connection.vendor == "postgresql"
    statuses = _store_all_at_once(mailbox, [mail()] * AT_ONCE)

    assert statuses == Counter({202: 1, 200: AT_ONCE - 1})
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_messages_of_one_new_thread_at_once_make_one_case(mailbox):
    raws = [mail(message_id=f"<m{i}@example.cz>", headers={"References": "<root@example.cz>"}) for i in range(AT_ONCE)]
    statuses = _store_all_at_once(mailbox, raws)

    assert statuses == Counter({202: AT_ONCE})
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}
    assert Customer.objects.count() == 1
    assert Case.objects.get().messages.count() == AT_ONCE
