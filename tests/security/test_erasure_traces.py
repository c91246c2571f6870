"""Erasure reaches what never became one of the customer's messages: failed
and ignored raw requests, delivery statuses of replies to them, auto-replies,
and outbound webhook deliveries about their cases (privacy/traces.py)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from cases.models import Case, Message
from connectors.models import Channel, InboundEvent
from outhooks import services as outhooks
from outhooks.models import Delivery, Subscription
from privacy.erasure import erase_customer
from tests import factories
from tests.security.stored import SECRETS, everything_stored

# What only the traces hold (each is in no message of the customer).
TRACES = ["broken-quince", "failed-apricot", "out-of-office-pineapple", "jiri-inbox-full", "echo-of-jiri"]
BENS = ["ben-broken-banana", "Ben Other"]

AUTO_REPLY = (
    b"From: Jiri Novak <JIRI@example.cz>\r\nTo: support@acme.test\r\nSubject: Away\r\n"
    b"Message-ID: <away1@example.cz>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nI am away: out-of-office-pineapple.\r\n"
)


@pytest.fixture
def traces(jiri, client, post_mail, mailbox, django_capture_on_commit_callbacks):
    """Jiří's traces outside his messages, and one of Ben's."""
    api = Channel.objects.get(key="shop")
    api_case = Case.objects.get(customer=jiri, channel=api)
    Message.objects.create(
        case=api_case,
        direction="out",
        channel=api,
        channel_kind="api",
        provider_message_id="out-77",
        text="We are on it",
        delivery_status="sent",
        created_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        # Unreadable (no id): failed when stored; the raw body is the only clue.
        for who, text in [("jiri@example.cz", "broken-quince"), ("ben@example.com", "ben-broken-banana")]:
            bad = {"from": {"kind": "email", "address": who}, "text": text}
            assert factories.post_webhook(client, api, bad).status_code == 400
        # The delivery status of our reply to him (the error names him).
        status = {"type": "delivery_status", "id": "st-1", "message_id": "out-77", "status": "failed"}
        factories.post_webhook(client, api, status | {"error": "jiri-inbox-full: jiri@example.cz"})
        post_mail(mailbox, AUTO_REPLY)  # ignored: never a case
    # Readable, but failed while applied; his phone written another way.
    sender = {"kind": "phone", "address": "+420 601 234 567", "name": "Jiří Novák"}
    InboundEvent.objects.create(
        channel=api,
        received_at=timezone.now(),
        body=json.dumps(factories.payload(**{"from": sender}, text="failed-apricot")).encode(),
        status=InboundEvent.Status.FAILED,
        error="OperationalError: the database went away",
    )
    hook = Subscription.objects.create(url="https://hooks.example.com/in", events=["sla.breached"])
    now = timezone.now()
    breach = {"case_id": api_case.pk, "kind": "sla_breach", "detail": "Jiří Novák waited 2 h"}
    outhooks.enqueue(event="sla.breached", data=breach, now=now)
    ben_case = Case.objects.exclude(customer=jiri).get()
    outhooks.enqueue(event="sla.breached", data={"case_id": ben_case.pk, "detail": "Ben Other waited"}, now=now)
    Delivery.objects.filter(payload__case_id=api_case.pk).update(response_body="echo-of-jiri", error="HTTP 500")
    return hook


def test_the_traces_are_stored_and_linked_to_no_message(traces):
    stored = everything_stored()
    assert [s for s in TRACES + BENS if s not in stored] == []  # so the test below can fail
    assert InboundEvent.objects.filter(message__isnull=True).count() == 5
    assert InboundEvent.objects.filter(status="ignored").count() == 1
    assert Message.objects.get(provider_message_id="out-77").delivery_status == "failed"


def test_erasure_leaves_nothing_of_the_customer_in_any_table(traces, jiri):
    record = erase_customer(customer_id=jiri.pk, now=timezone.now())
    stored = everything_stored()
    assert [s for s in SECRETS + TRACES if s in stored] == []
    assert "Jiří" not in stored and "Novak" not in stored.replace("Novák", "")
    assert record.counts["inbound_events"] == 2 + 4  # his two messages' requests and four traces
    assert record.counts["webhook_deliveries"] == 1


def test_erasure_leaves_other_customers_traces_alone(traces, jiri):
    erase_customer(customer_id=jiri.pk, now=timezone.now())
    stored = everything_stored()
    assert [s for s in BENS if s not in stored] == []
    ben_delivery = Delivery.objects.exclude(payload__detail="[erased]").get()
    assert ben_delivery.payload["detail"] == "Ben Other waited"


def test_a_scrubbed_webhook_delivery_keeps_ids_and_statuses(traces, jiri):
    erase_customer(customer_id=jiri.pk, now=timezone.now())
    delivery = Delivery.objects.get(payload__detail="[erased]")
    case = Case.objects.get(customer=jiri, channel__key="shop")
    assert delivery.payload == {"case_id": case.pk, "kind": "sla_breach", "detail": "[erased]"}
    assert delivery.response_body == "" and delivery.error == ""
    assert delivery.status == "pending"  # still sent: what the subscriber gets holds nothing of his


def test_erasure_with_traces_is_idempotent(traces, jiri):
    assert erase_customer(customer_id=jiri.pk, now=timezone.now()) is not None
    before = everything_stored()
    assert erase_customer(customer_id=jiri.pk, now=timezone.now()) is None
    assert everything_stored() == before
