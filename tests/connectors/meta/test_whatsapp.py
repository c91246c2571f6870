"""WhatsApp Cloud API webhooks: every message type, contacts' profile names,
batches deduped per message, and statuses that never move a reply back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.models import Case, Customer, Identity, Message
from connectors.models import InboundEvent
from tests import factories
from tests.connectors.meta.conftest import (
    PHONE_NUMBER_ID,
    meta_channel,
    wa_message,
    wa_status,
    whatsapp_body,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return meta_channel("wa", "whatsapp", queue=factories.queue("WhatsApp", auto_accept=True))


def test_text_message_opens_a_whatsapp_case_for_the_phone_number(send_meta, channel):
    assert send_meta(channel, whatsapp_body(wa_message("wamid.T1"))).json()["status"] == "accepted"

    message = Message.objects.get(provider_message_id="wamid.T1")
    assert message.text == "Hi, my order did not arrive"
    assert message.sent_at is not None and message.sent_at.year == 2025
    case = message.case
    assert case.channel_kind == "whatsapp"
    assert case.thread_key == f"whatsapp:{PHONE_NUMBER_ID}:16505551234"
    assert case.customer.display_name == "Sheena Nelson"
    assert Identity.objects.get(customer=case.customer).address == "+16505551234"
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_profile_name_does_not_replace_a_known_name(send_meta, channel):
    customer = Customer.objects.create(display_name="Sheena N. (VIP)")
    Identity.objects.create(customer=customer, kind="phone", address="+16505551234")
    send_meta(channel, whatsapp_body(wa_message("wamid.T1")))
    customer.refresh_from_db()
    assert customer.display_name == "Sheena N. (VIP)"
    assert Message.objects.get().case.customer_id == customer.pk


def test_same_phone_number_on_whatsapp_and_sms_is_one_customer(send_meta, channel):
    customer = Customer.objects.create(display_name="")
    Identity.objects.create(customer=customer, kind="phone", address="+16505551234")  # as an SMS left it
    send_meta(channel, whatsapp_body(wa_message("wamid.T1")))
    assert Customer.objects.count() == 1
    customer.refresh_from_db()
    assert customer.display_name == "Sheena Nelson"


def test_every_message_type_becomes_its_own_message(send_meta, channel):
    body = whatsapp_body(
        wa_message("wamid.1"),
        wa_message("wamid.2", "image", caption="the box", mime_type="image/jpeg", sha256="abc", id="1003383421387256"),
        wa_message(
            "wamid.3", "audio", mime_type="audio/ogg; codecs=opus", sha256="abc", id="1003383421387257", voice=True
        ),
        wa_message("wamid.4", "video", mime_type="video/mp4", sha256="abc", id="1003383421387258"),
        wa_message(
            "wamid.5", "document", caption="invoice", filename="invoice.pdf", mime_type="application/pdf", id="99"
        ),
        wa_message("wamid.6", "sticker", mime_type="image/webp", sha256="abc", id="1003383421387259", animated=False),
        wa_message(
            "wamid.7",
            "location",
            latitude=37.483307,
            longitude=-122.148981,
            name="Main Street Beach",
            address="Main Street Beach, Santa Cruz, CA",
        ),
        {
            "from": "16505551234",
            "id": "wamid.8",
            "timestamp": "1749416383",
            "type": "contacts",
            "contacts": [
                {
                    "name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
                    "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME"}],
                }
            ],
        },
        wa_message(
            "wamid.9", "interactive", type="button_reply", button_reply={"id": "track", "title": "Track my order"}
        ),
        wa_message(
            "wamid.10",
            "interactive",
            type="list_reply",
            list_reply={"id": "r2", "title": "Refund", "description": "Ask for a refund"},
        ),
        wa_message("wamid.11", "button", payload="YES", text="Yes, please"),
        wa_message("wamid.12", "reaction", message_id="wamid.1", emoji="\U0001f44d"),
    )
    send_meta(channel, body)

    texts = dict(Message.objects.values_list("provider_message_id", "text"))
    assert texts == {
        "wamid.1": "Hi, my order did not arrive",
        "wamid.2": "the box",
        "wamid.3": "[audio]",
        "wamid.4": "[video]",
        "wamid.5": "invoice",
        "wamid.6": "[sticker]",
        "wamid.7": "Main Street Beach\nMain Street Beach, Santa Cruz, CA\nLocation: 37.483307,-122.148981",
        "wamid.8": "Shared contact: Barbara J. Johnson +1 (940) 555-1234",
        "wamid.9": "Track my order",
        "wamid.10": "Refund",
        "wamid.11": "Yes, please",
        "wamid.12": "Reacted \U0001f44d",
    }
    assert Case.objects.count() == 1
    image = Message.objects.get(provider_message_id="wamid.2").attachments
    assert image == [
        {
            "name": "image-1003383421387256",
            "content_type": "image/jpeg",
            "size": None,
            "url": "meta-media:1003383421387256",
        }
    ]
    document = Message.objects.get(provider_message_id="wamid.5").attachments
    assert document[0]["name"] == "invoice.pdf" and document[0]["content_type"] == "application/pdf"


def test_batch_of_entries_is_stored_once_even_when_delivered_again(send_meta, channel):
    body = whatsapp_body(wa_message("wamid.B1"), wa_message("wamid.B2", sender="16505550000"))
    body["entry"].append(whatsapp_body(wa_message("wamid.B3", sender="4915112345678"))["entry"][0])

    assert send_meta(channel, body).json()["status"] == "accepted"
    again = send_meta(channel, body)  # the same call again
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert Message.objects.count() == 3
    assert Case.objects.count() == 3
    assert InboundEvent.objects.count() == 1


def test_message_inside_another_batch_is_stored_once(send_meta, channel):
    send_meta(channel, whatsapp_body(wa_message("wamid.B1"), wa_message("wamid.B2")))
    response = send_meta(channel, whatsapp_body(wa_message("wamid.B2"), wa_message("wamid.B3")))

    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == ["wamid.B1", "wamid.B2", "wamid.B3"]
    assert InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == 2


def test_batch_of_messages_already_stored_changes_nothing(send_meta, channel):
    send_meta(channel, whatsapp_body(wa_message("wamid.B1")))
    body = whatsapp_body(wa_message("wamid.B1"))
    body["entry"][0]["time"] = 1  # another call, the same message
    send_meta(channel, body)
    assert Message.objects.count() == 1
    assert InboundEvent.objects.order_by("pk").last().status == InboundEvent.Status.IGNORED


def test_unknown_message_type_and_field_are_stored_and_ignored(send_meta, channel):
    body = whatsapp_body(
        {"from": "16505551234", "id": "wamid.U1", "timestamp": "1749416383", "type": "unsupported",
         "errors": [{"code": 131051, "title": "Message type unknown"}]},
    )  # fmt: skip
    body["entry"][0]["changes"].append({"field": "message_template_status_update", "value": {"event": "APPROVED"}})
    assert send_meta(channel, body).json()["status"] == "accepted"
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED
    assert b"unsupported" in bytes(event.body)  # visible to admins
    assert Message.objects.count() == 0


def test_bad_message_in_a_batch_does_not_lose_the_others(send_meta, channel):
    body = whatsapp_body(
        wa_message("wamid.G1"),
        {"from": "not a phone", "id": "wamid.G2", "type": "text", "text": {"body": "x"}},
        {"id": "wamid.G3", "type": "text"},
        "not an object",
    )
    send_meta(channel, body)
    assert list(Message.objects.values_list("provider_message_id", flat=True)) == ["wamid.G1"]


# -- statuses of our replies ---------------------------------------------------


@pytest.fixture
def reply(send_meta, channel, agent_for_all, graph_api, django_capture_on_commit_callbacks):
    base, _ = graph_api
    channel.config["api_base"] = base
    channel.save()
    send_meta(channel, whatsapp_body(wa_message("wamid.IN")))
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(case_id=case.pk, agent=agent_for_all, text="On its way", now=timezone.now())
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    return message


def test_statuses_move_the_reply_forward_and_never_back(send_meta, channel, reply):
    out = reply.provider_message_id
    send_meta(channel, whatsapp_body(statuses=[wa_status(out, "delivered")]))
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"

    # Out of order: read, then a late delivered and sent in one call.
    send_meta(channel, whatsapp_body(statuses=[wa_status(out, "read")]))
    send_meta(channel, whatsapp_body(statuses=[wa_status(out, "delivered"), wa_status(out, "sent")]))
    reply.refresh_from_db()
    assert reply.delivery_status == "read"


def test_failed_status_records_metas_error(send_meta, channel, reply):
    errors = [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
               "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}]  # fmt: skip
    send_meta(channel, whatsapp_body(statuses=[wa_status(reply.provider_message_id, "failed", errors=errors)]))
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
    assert "131047" in reply.delivery_error and "more than 24 hours" in reply.delivery_error


def test_status_for_a_message_we_never_sent_changes_nothing(send_meta, channel, reply):
    send_meta(channel, whatsapp_body(statuses=[wa_status("wamid.SOMEONE-ELSES", "read")]))
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    assert InboundEvent.objects.order_by("pk").last().status == InboundEvent.Status.IGNORED
