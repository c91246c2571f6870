"""Attaching an inbound message: the sender becomes a customer (one customer
per identity, however the address is written), and the message joins the
open case of its thread, re-opens a recently resolved one, or starts a case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents import services as agent_services
from cases import services as case_services
from cases.models import Case, CaseEvent, CaseStatus, Customer, Identity, Message
from connectors import services as connector_services
from connectors.models import InboundEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return factories.channel("web", default_queue=factories.queue("General"))


def _from(kind: str, address: str, name: str = "") -> dict:
    return {"from": {"kind": kind, "address": address, "name": name}}


# --- Threads and cases ------------------------------------------------------------


def test_two_messages_from_one_sender_join_one_open_case(deliver, channel):
    deliver(channel, factories.payload(id="m-1", text="My order has not arrived."))
    deliver(channel, factories.payload(id="m-2", text="It was order 77."))

    case = Case.objects.get()
    assert case.status == CaseStatus.QUEUED
    assert list(case.messages.values_list("provider_message_id", flat=True)) == ["m-1", "m-2"]
    assert case.thread_key == "email:maria@example.com"
    assert case.subject == "My order has not arrived."
    assert Customer.objects.count() == 1


def test_messages_on_one_thread_join_one_case(deliver, channel):
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    deliver(channel, factories.payload(id="m-2", thread="order-77"))

    case = Case.objects.get()
    assert case.thread_key == "order-77"
    assert case.messages.count() == 2


def test_another_thread_starts_another_case_for_the_same_customer(deliver, channel):
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    deliver(channel, factories.payload(id="m-2", thread="order-78"))

    cases = list(Case.objects.order_by("pk"))
    assert [c.thread_key for c in cases] == ["order-77", "order-78"]
    assert cases[0].customer_id == cases[1].customer_id
    assert [c.messages.get().provider_message_id for c in cases] == ["m-1", "m-2"]


def test_the_same_thread_on_another_channel_is_another_case(deliver, channel):
    mail = factories.channel("mail", kind="email")

    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    deliver(mail, factories.payload(id="m-2", thread="order-77"))

    assert sorted(Case.objects.values_list("channel_kind", flat=True)) == ["api", "email"]


def test_new_case_records_what_the_message_said(deliver, channel):
    deliver(
        channel,
        factories.payload(
            id="m-1",
            subject="Order 77",
            language="ES",
            sent_at="2026-11-23T10:00:00+01:00",
            attachments=[{"name": "receipt.pdf", "content_type": "application/pdf", "size": 1234}],
            **_from("email", "Maria@Example.com", "María"),
        ),
    )

    case = Case.objects.get()
    assert case.subject == "Order 77"
    assert case.language == "es"
    assert case.channel_id == channel.pk and case.channel_kind == "api"
    assert case.customer.display_name == "María"
    assert case.customer.language == "es"
    assert case.last_customer_message_at is not None
    message = case.messages.get()
    assert message.sent_at.isoformat() == "2026-11-23T09:00:00+00:00"
    assert message.attachments == [{"name": "receipt.pdf", "content_type": "application/pdf", "size": 1234, "url": ""}]
    assert message.sender_identity.address == "maria@example.com"
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds[:2] == [CaseEvent.Kind.CREATED, CaseEvent.Kind.MESSAGE_RECEIVED]
    assert CaseEvent.Kind.QUEUED in kinds


def test_customer_reply_on_a_case_waiting_on_them_brings_it_back_to_the_agent(deliver, channel):
    agent = factories.agent("ana")
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.WAITING, assignee=agent)

    deliver(channel, factories.payload(id="m-2", thread="order-77"))

    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    assert case.assignee_id == agent.pk
    assert case.messages.count() == 2


# --- Re-opening -------------------------------------------------------------------


def test_message_on_a_recently_resolved_thread_reopens_its_case(deliver):
    queue = factories.queue("General", auto_accept=True)
    channel = factories.channel("web", default_queue=queue)
    agent = factories.agent("ana")
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    case = Case.objects.get()
    assert case.status == CaseStatus.ASSIGNED
    case_services.resolve_case(case_id=case.pk, agent=agent, now=timezone.now())
    agent_services.end_presence(agent_id=agent.pk, now=timezone.now())  # nobody to take it at once

    deliver(channel, factories.payload(id="m-2", thread="order-77", text="It still has not arrived"))

    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED
    assert case.assignee_id is None
    assert case.resolved_at is None
    assert case.queue_id == queue.pk
    assert list(case.messages.values_list("provider_message_id", flat=True)) == ["m-1", "m-2"]
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds.index(CaseEvent.Kind.REOPENED) > kinds.index(CaseEvent.Kind.RESOLVED)
    assert kinds[-1] == CaseEvent.Kind.QUEUED


def test_message_after_the_reopen_window_starts_a_new_case(deliver, channel, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "REOPEN_WINDOW_SECONDS": 3600}
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    old = Case.objects.get()
    Case.objects.filter(pk=old.pk).update(
        status=CaseStatus.RESOLVED, resolved_at=timezone.now() - timedelta(seconds=3601)
    )

    deliver(channel, factories.payload(id="m-2", thread="order-77"))

    old.refresh_from_db()
    assert old.status == CaseStatus.RESOLVED
    new = Case.objects.exclude(pk=old.pk).get()
    assert new.status == CaseStatus.QUEUED
    assert new.thread_key == "order-77"
    assert new.customer_id == old.customer_id
    assert new.messages.get().provider_message_id == "m-2"
    assert not CaseEvent.objects.filter(kind=CaseEvent.Kind.REOPENED).exists()


def test_message_within_the_reopen_window_from_settings_reopens(deliver, channel, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "REOPEN_WINDOW_SECONDS": 3600}
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    Case.objects.update(status=CaseStatus.RESOLVED, resolved_at=timezone.now() - timedelta(seconds=3500))

    deliver(channel, factories.payload(id="m-2", thread="order-77"))

    case = Case.objects.get()
    assert case.status == CaseStatus.QUEUED
    assert case.messages.count() == 2


def test_the_most_recently_resolved_case_of_a_thread_is_reopened(deliver, channel):
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    first = Case.objects.get()
    Case.objects.filter(pk=first.pk).update(status=CaseStatus.RESOLVED, resolved_at=timezone.now() - timedelta(hours=5))
    deliver(channel, factories.payload(id="m-2", thread="order-77"))
    first.refresh_from_db()
    assert first.status == CaseStatus.QUEUED  # re-opened
    Case.objects.filter(pk=first.pk).update(status=CaseStatus.RESOLVED, resolved_at=timezone.now() - timedelta(hours=1))

    deliver(channel, factories.payload(id="m-3", thread="order-77"))

    assert Case.objects.count() == 1
    assert Case.objects.get().messages.count() == 3


def test_closed_case_is_not_reopened(deliver, channel):
    deliver(channel, factories.payload(id="m-1", thread="order-77"))
    old = Case.objects.get()
    now = timezone.now()
    Case.objects.filter(pk=old.pk).update(status=CaseStatus.CLOSED, closed_at=now)

    deliver(channel, factories.payload(id="m-2", thread="order-77"))

    old.refresh_from_db()
    assert old.status == CaseStatus.CLOSED
    assert Case.objects.count() == 2


# --- One customer per identity ------------------------------------------------------


def test_email_address_in_any_letter_case_is_one_customer(deliver, channel):
    mail = factories.channel("mail", kind="email")
    deliver(channel, factories.payload(id="m-1", **_from("email", "maria@example.com")))
    deliver(channel, factories.payload(id="m-2", **_from("email", "MARIA@Example.COM")))
    deliver(mail, factories.payload(id="m-3", **_from("email", "  Maria@EXAMPLE.com ")))

    customer = Customer.objects.get()
    assert list(customer.identities.values_list("kind", "address")) == [("email", "maria@example.com")]
    assert Case.objects.filter(customer=customer).count() == 2  # one per channel
    assert Message.objects.filter(case__customer=customer).count() == 3
    assert Case.objects.get(channel=channel).messages.count() == 2


@pytest.mark.parametrize(
    "address",
    ["+34600123456", "+34 600 123 456", "whatsapp:+34600123456", "tel:+34-600-123-456", "0034600123456", "600123456"],
)
def test_phone_number_in_any_format_is_one_customer(deliver, settings, address):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "DEFAULT_PHONE_REGION": "ES"}
    sms = factories.channel("sms", kind="sms")
    whatsapp = factories.channel("wa", kind="whatsapp")
    deliver(sms, factories.payload(id="m-1", **_from("phone", "+34 600 12 34 56")))

    deliver(whatsapp, factories.payload(id="m-2", **_from("phone", address)))
    deliver(sms, factories.payload(id="m-3", **_from("phone", address)))

    customer = Customer.objects.get()
    assert list(customer.identities.values_list("kind", "address")) == [("phone", "+34600123456")]
    assert Case.objects.get(channel=sms).messages.count() == 2  # one thread per number, however written
    assert Case.objects.get(channel=whatsapp).customer_id == customer.pk


def test_phone_number_without_country_code_and_no_default_region_is_refused(deliver, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "DEFAULT_PHONE_REGION": None}
    sms = factories.channel("sms", kind="sms")

    response = deliver(sms, factories.payload(id="m-1", **_from("phone", "0034600123456")))

    assert response.status_code == 400
    assert "0034600123456" in response.json()["detail"]
    assert Customer.objects.count() == 0


def test_same_address_under_another_kind_is_another_identity(deliver, channel):
    deliver(channel, factories.payload(id="m-1", **_from("external", "crm-42")))
    deliver(channel, factories.payload(id="m-2", **_from("web", "crm-42")))

    assert Identity.objects.count() == 2
    assert Customer.objects.count() == 2


def test_known_customer_keeps_their_name_and_gains_one_they_lacked(deliver, channel):
    deliver(channel, factories.payload(id="m-1", **_from("email", "maria@example.com", "")))
    deliver(channel, factories.payload(id="m-2", language="es", **_from("email", "maria@example.com", "María")))
    deliver(channel, factories.payload(id="m-3", language="pt", **_from("email", "maria@example.com", "Impostor")))

    customer = Customer.objects.get()
    assert customer.display_name == "María"
    assert customer.language == "es"


def test_resolve_customer_twice_finds_the_same_customer():
    first, identity = case_services.resolve_customer(kind="email", address="Ana@Example.com", display_name="Ana")
    again, same = case_services.resolve_customer(kind="email", address="ana@example.com")

    assert (again.pk, same.pk) == (first.pk, identity.pk)
    assert identity.address == "ana@example.com"
    assert Customer.objects.count() == 1


def test_event_of_a_sender_rejected_at_normalization_creates_nothing(channel):
    """Stored by an older release with an address today's checks refuse."""
    event = InboundEvent.objects.create(
        channel=channel,
        received_at=timezone.now(),
        body=b'{"id": "m-1", "from": {"kind": "email", "address": "nobody"}, "text": "hi"}',
        dedupe_key="m-1",
    )
    connector_services.process_event(event_id=event.pk, now=timezone.now())

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED
    assert "nobody" in event.error
    assert Customer.objects.count() == 0 and Case.objects.count() == 0


def test_sender_with_the_longest_allowed_id_and_no_thread_gets_a_case(deliver, channel):
    long_id = "u" * 255  # the longest address the provider accepts

    response = deliver(channel, factories.payload(id="m-1", **_from("external", long_id)))
    deliver(channel, factories.payload(id="m-2", **_from("external", long_id)))
    deliver(channel, factories.payload(id="m-3", **_from("external", "u" * 254 + "v")))

    assert response.status_code == 202
    errors = list(InboundEvent.objects.exclude(status=InboundEvent.Status.PROCESSED).values_list("error", flat=True))
    assert errors == []
    first, other = Case.objects.order_by("pk")
    assert all(len(case.thread_key) <= 255 for case in (first, other))
    assert first.messages.count() == 2  # one thread per sender, however long the id
    assert first.customer.identities.get().address == long_id
    assert other.customer_id != first.customer_id
