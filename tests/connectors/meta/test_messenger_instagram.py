"""Messenger and Instagram messaging webhooks: messages, attachments,
postbacks, echoes ignored, delivery and read receipts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.models import Case, Identity, Message
from connectors.models import InboundEvent
from tests import factories
from tests.connectors.meta.conftest import IG_ID, PAGE_ID, messaging, meta_channel, page_body

pytestmark = pytest.mark.django_db
PSID = "1254459154682919"


@pytest.fixture
def channel():
    return meta_channel("page", "messenger", queue=factories.queue("Messenger", auto_accept=True))


def test_message_with_attachments_opens_a_messenger_case(send_meta, channel):
    event = messaging(
        PSID,
        message={
            "mid": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
            "text": "Is this in stock?",
            "attachments": [{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.png"}}],
        },
    )
    assert send_meta(channel, page_body(event)).json()["status"] == "accepted"

    message = Message.objects.get()
    assert message.text == "Is this in stock?"
    assert message.attachments == [
        {"name": "image-1", "content_type": "image/*", "size": None, "url": "https://scontent.xx.fbcdn.net/v/t1.png"}
    ]
    assert message.case.channel_kind == "messenger"
    assert message.case.thread_key == f"messenger:{PAGE_ID}:{PSID}"
    assert Identity.objects.get(customer=message.case.customer).kind == "messenger"


def test_postback_is_a_message_from_the_customer(send_meta, channel):
    event = messaging(PSID, postback={"mid": "m_PB1", "title": "Talk to a human", "payload": "HUMAN"})
    send_meta(channel, page_body(event))
    assert Message.objects.get().text == "Talk to a human"


def test_echo_of_the_pages_own_message_is_ignored(send_meta, channel):
    event = messaging(
        PAGE_ID, owner=PSID, message={"mid": "m_ECHO", "is_echo": True, "app_id": 1517776481860111, "text": "hi"}
    )
    send_meta(channel, page_body(event))
    assert Message.objects.count() == 0
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_unknown_messaging_event_is_stored_and_ignored(send_meta, channel):
    send_meta(channel, page_body(messaging(PSID, optin={"ref": "PASS_THROUGH_PARAM"})))
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED and b"optin" in bytes(event.body)


def test_several_entries_and_events_are_each_stored_once(send_meta, channel):
    body = page_body(
        messaging(PSID, message={"mid": "m_1", "text": "one"}), messaging(PSID, message={"mid": "m_2", "text": "two"})
    )
    body["entry"].append(page_body(messaging("999", message={"mid": "m_3", "text": "three"}))["entry"][0])
    send_meta(channel, body)
    send_meta(channel, body)
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == ["m_1", "m_2", "m_3"]
    assert Case.objects.count() == 2


def test_delivery_and_read_receipts_move_the_reply_forward(
    send_meta, channel, agent_for_all, graph_api, django_capture_on_commit_callbacks
):
    base, _ = graph_api
    channel.config["api_base"] = base
    channel.save()
    send_meta(channel, page_body(messaging(PSID, message={"mid": "m_IN", "text": "hello"})))
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = case_services.send_reply(case_id=case.pk, agent=agent_for_all, text="Hi!", now=timezone.now())
    reply.refresh_from_db()
    assert reply.delivery_status == "sent" and reply.provider_message_id.startswith("m_OUT")

    watermark = int(timezone.now().timestamp() * 1000) + 1000
    send_meta(channel, page_body(messaging(PSID, read={"watermark": watermark})))
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    # A late delivery receipt does not move it back.
    send_meta(
        channel, page_body(messaging(PSID, delivery={"mids": [reply.provider_message_id], "watermark": watermark}))
    )
    reply.refresh_from_db()
    assert reply.delivery_status == "read"


def test_delivery_receipt_names_its_messages(
    send_meta, channel, agent_for_all, graph_api, django_capture_on_commit_callbacks
):
    base, _ = graph_api
    channel.config["api_base"] = base
    channel.save()
    send_meta(channel, page_body(messaging(PSID, message={"mid": "m_IN", "text": "hello"})))
    with django_capture_on_commit_callbacks(execute=True):
        reply = case_services.send_reply(
            case_id=Case.objects.get().pk, agent=agent_for_all, text="Hi", now=timezone.now()
        )
    reply.refresh_from_db()
    send_meta(channel, page_body(messaging(PSID, delivery={"mids": [reply.provider_message_id], "watermark": 1})))
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"


def test_read_before_our_reply_was_sent_does_not_mark_it_read(
    send_meta, channel, agent_for_all, graph_api, django_capture_on_commit_callbacks
):
    base, _ = graph_api
    channel.config["api_base"] = base
    channel.save()
    send_meta(channel, page_body(messaging(PSID, message={"mid": "m_IN", "text": "hello"})))
    with django_capture_on_commit_callbacks(execute=True):
        reply = case_services.send_reply(
            case_id=Case.objects.get().pk, agent=agent_for_all, text="Hi", now=timezone.now()
        )
    send_meta(channel, page_body(messaging(PSID, read={"watermark": 1458668856253})))  # 2016
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"


def test_instagram_message_opens_an_instagram_case(send_meta):
    channel = meta_channel("ig", "instagram", queue=factories.queue("Instagram"))
    body = page_body(
        messaging("17841405822304914", owner=IG_ID, message={"mid": "aWdfZAG1faXRlbToxOklH", "text": "hey"}),
        obj="instagram",
        owner=IG_ID,
    )
    send_meta(channel, body)
    message = Message.objects.get()
    assert message.case.channel_kind == "instagram"
    assert message.case.thread_key == f"instagram:{IG_ID}:17841405822304914"
    assert Identity.objects.get().kind == "instagram"


def test_instagram_read_receipt_names_the_message(
    send_meta, graph_api, agent_for_all, django_capture_on_commit_callbacks
):
    base, _ = graph_api
    channel = meta_channel("ig", "instagram", queue=factories.queue("Instagram", auto_accept=True), api_base=base)
    send_meta(
        channel,
        page_body(
            messaging("1784", owner=IG_ID, message={"mid": "ig_in", "text": "hey"}), obj="instagram", owner=IG_ID
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = case_services.send_reply(
            case_id=Case.objects.get().pk, agent=agent_for_all, text="Hi", now=timezone.now()
        )
    reply.refresh_from_db()
    send_meta(
        channel,
        page_body(
            messaging("1784", owner=IG_ID, read={"mid": reply.provider_message_id}), obj="instagram", owner=IG_ID
        ),
    )
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
