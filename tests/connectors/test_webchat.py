"""The web chat over /ws/chat/<widget-key>/ through the real ASGI application:
pre-chat form, messages stored first as inbound events, agents' replies,
name and typing reaching the widget live, reconnect keeping the
conversation, signed identities, the offline form and broken frames."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.utils import timezone

from cases.models import Case, CaseStatus, Identity, Message
from cases.services import send_reply
from config.asgi import application
from connectors.models import Channel, InboundEvent
from connectors.webchat.services import agent_typing
from connectors.webchat.visitors import identity_signature
from routing.models import Offer
from routing.offers import accept_offer
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://127.0.0.1:8000"


def widget(key: str = "site-chat", **config) -> Channel:
    queue = factories.queue(f"Chat {key}")
    return Channel.objects.create(
        key=key, name="Site chat", kind="web_chat", provider="webchat", default_queue=queue, config=config
    )


async def connect(key: str = "site-chat", origin: bytes = ORIGIN) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(
        application, f"/ws/chat/{key}/", headers=[(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    )
    connected, code = await ws.connect()
    assert connected, code
    return ws


async def receive(ws: WebsocketCommunicator, type_: str, timeout: float = 5) -> dict:
    while True:
        message = json.loads(await ws.receive_from(timeout=timeout))
        if message["type"] == type_:
            return message


async def send(ws: WebsocketCommunicator, frame: dict | str) -> None:
    await ws.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))


async def hello(ws, **frame) -> dict:
    await send(ws, {"type": "hello", **frame})
    return await receive(ws, "welcome")


db = database_sync_to_async


async def test_unknown_widget_key_is_closed():
    ws = WebsocketCommunicator(
        application, "/ws/chat/nope/", headers=[(b"origin", ORIGIN), (b"host", b"127.0.0.1:8000")]
    )
    connected, code = await ws.connect()
    assert not connected
    assert code == 4404


async def test_origin_not_listed_for_the_widget_is_refused():
    await db(widget)(allowed_origins=["https://shop.example.com"])
    ws = WebsocketCommunicator(
        application, "/ws/chat/site-chat/", headers=[(b"origin", ORIGIN), (b"host", b"127.0.0.1:8000")]
    )
    connected, code = await ws.connect()
    assert not connected
    assert code == 4403


async def test_customer_chats_agent_answers_with_name_and_typing_and_reconnect_keeps_it():
    channel = await db(widget)()
    agent = await db(factories.agent)("ana")

    ws = await connect()
    welcome = await hello(ws)
    assert welcome["needs_details"] is True
    assert welcome["agents_online"] is True
    assert welcome["messages"] == []
    token = welcome["token"]

    await send(ws, {"type": "details", "name": "María", "email": "Maria@Example.com"})
    welcome = await receive(ws, "welcome")
    assert welcome["needs_details"] is False
    token = welcome["token"]

    await send(ws, {"type": "message", "id": "c-1", "text": "Hola, my order #77 is late"})
    ack = await receive(ws, "ack")
    assert ack["id"] == "c-1" and ack["status"] == "accepted"
    status = await receive(ws, "chat.status")
    assert status["conversation"]["status"] in ("queued", "offered")

    def check_stored():
        event = InboundEvent.objects.get()
        assert event.status == InboundEvent.Status.PROCESSED
        assert json.loads(bytes(event.body))["frame"] == json.dumps(
            {"type": "message", "id": "c-1", "text": "Hola, my order #77 is late"}
        )
        case = Case.objects.get()
        assert case.channel_id == channel.pk and case.channel_kind == "web_chat"
        assert case.customer.display_name == "María"
        kinds = set(case.customer.identities.values_list("kind", "address"))
        assert ("email", "maria@example.com") in kinds
        return case

    case = await db(check_stored)()

    # The same frame again (a resend after a lost ack) is stored once.
    await send(ws, {"type": "message", "id": "c-1", "text": "Hola, my order #77 is late"})
    ack = await receive(ws, "ack")
    assert ack["status"] == "duplicate"
    assert await db(Message.objects.count)() == 1

    def accept_and_reply():
        offer = Offer.objects.get(case=case, status="pending")
        accept_offer(offer_id=offer.pk, agent=agent, now=timezone.now())
        agent_typing(case_id=case.pk, agent=agent)
        send_reply(case_id=case.pk, agent=agent, text="Hi María, checking it now.", now=timezone.now())

    await db(accept_and_reply)()
    status = await receive(ws, "chat.status")
    assert status["conversation"]["status"] == "assigned"
    assert status["conversation"]["agent"] == "Ana"
    typing = await receive(ws, "chat.typing")
    assert typing["agent"] == "Ana"
    reply = await receive(ws, "chat.message")
    assert reply["message"]["text"] == "Hi María, checking it now."
    assert reply["message"]["author"] == "Ana"
    assert reply["message"]["direction"] == "out"
    assert (await db(Message.objects.get)(direction="out")).delivery_status == "sent"
    await ws.disconnect()

    # A reconnect with the kept token shows the whole conversation.
    ws = await connect()
    welcome = await hello(ws, token=token)
    assert [(m["direction"], m["text"]) for m in welcome["messages"]] == [
        ("in", "Hola, my order #77 is late"),
        ("out", "Hi María, checking it now."),
    ]
    assert welcome["conversation"]["agent"] == "Ana"
    await send(ws, {"type": "message", "id": "c-2", "text": "Thanks!"})
    await receive(ws, "ack")
    assert await db(lambda: Case.objects.count())() == 1
    assert await db(lambda: list(case.messages.values_list("text", flat=True)))() == [
        "Hola, my order #77 is late",
        "Hi María, checking it now.",
        "Thanks!",
    ]
    await ws.disconnect()


async def test_token_of_another_widget_starts_a_new_conversation():
    await db(widget)("one")
    await db(widget)("two")
    ws = await connect("one")
    token = (await hello(ws))["token"]
    await ws.disconnect()

    ws = await connect("two")
    welcome = await hello(ws, token=token)
    assert welcome["token"] != token
    assert welcome["needs_details"] is True
    await ws.disconnect()


async def test_signed_identity_is_recognized_with_its_history_and_not_asked_again():
    channel = await db(widget)()
    await db(factories.agent)("ana")
    signature = identity_signature(channel.secret, "user-42")

    ws = await connect()
    welcome = await hello(ws, identity={"user_id": "user-42", "signature": signature, "name": "Li Wei"})
    assert welcome["needs_details"] is False
    await send(ws, {"type": "message", "id": "a", "text": "First visit"})
    await receive(ws, "ack")
    await ws.disconnect()

    def resolve_first():
        case = Case.objects.get()
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.RESOLVED, resolved_at=timezone.now(), assignee=None)
        return case.customer_id

    customer_id = await db(resolve_first)()

    # Another browser (no token), the same signed user: the same customer.
    ws = await connect()
    welcome = await hello(ws, identity={"user_id": "user-42", "signature": signature, "name": "Li Wei"})
    assert welcome["needs_details"] is False
    assert [m["text"] for m in welcome["messages"]] == ["First visit"]
    await send(ws, {"type": "message", "id": "b", "text": "Back again"})
    await receive(ws, "ack")
    await ws.disconnect()
    customers = await db(lambda: set(Message.objects.values_list("case__customer_id", flat=True)))()
    assert customers == {customer_id}
    identity = await db(Identity.objects.get)(kind="web")
    assert identity.address == "site-chat:user:user-42"


async def test_bad_identity_signature_is_refused_with_a_clear_error():
    await db(widget)()
    ws = await connect()
    await send(ws, {"type": "hello", "identity": {"user_id": "user-42", "signature": "00" * 32}})
    error = await receive(ws, "error")
    assert error["detail"] == "the identity signature does not match the user id"
    await send(ws, {"type": "message", "id": "x", "text": "hi"})
    assert (await receive(ws, "error"))["detail"] == "say hello first"
    assert await db(InboundEvent.objects.count)() == 0
    await ws.disconnect()


async def test_offline_form_becomes_an_email_style_case_answered_by_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    await db(widget)()  # nobody serves the chat queue

    ws = await connect()
    welcome = await hello(ws)
    assert welcome["agents_online"] is False
    await send(
        ws,
        {"type": "offline", "id": "o-1", "name": "Jan", "email": "Jan@Example.cz", "text": "Call me back please"},
    )
    assert (await receive(ws, "ack"))["status"] == "accepted"
    await ws.disconnect()

    def check_and_reply():
        case = Case.objects.get()
        assert case.channel_kind == "email"
        assert case.status == CaseStatus.QUEUED
        assert case.customer.identities.filter(kind="email", address="jan@example.cz").exists()
        agent = factories.agent("ben")
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED, assignee=agent)
        return send_reply(case_id=case.pk, agent=agent, text="We'll call you at 3pm.", now=timezone.now())

    message = await db(check_and_reply)()
    message = await db(Message.objects.get)(pk=message.pk)
    assert message.delivery_status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["jan@example.cz"]
    assert mail.outbox[0].body == "We'll call you at 3pm."


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"type": "message"}',
        '{"type": "message", "id": "x", "text": ""}',
        '{"type": "message", "id": 5, "text": "hi"}',
        '{"type": "message", "id": "x", "text": "a\\u0000b"}',
        '{"type": "offline", "id": "x", "text": "hi", "email": "not-an-email"}',
        "[" * 5000 + "]" * 5000,
    ],
)
async def test_broken_frames_get_a_clear_error_and_the_socket_stays_open(frame):
    await db(widget)()
    ws = await connect()
    await hello(ws)

    await send(ws, frame)
    error = await receive(ws, "error")
    assert error["detail"]

    # The socket still works afterwards.
    await send(ws, {"type": "position"})
    assert (await receive(ws, "chat.status"))["conversation"]["status"] == "none"
    await ws.disconnect()
    events = await db(lambda: list(InboundEvent.objects.values_list("status", "error")))()
    assert all(status == "failed" and error for status, error in events)
    assert await db(Case.objects.count)() == 0


async def test_frame_over_the_size_limit_is_refused_and_stores_nothing():
    await db(widget)()
    ws = await connect()
    await hello(ws)
    await send(ws, {"type": "message", "id": "big", "text": "x" * 40_000})
    assert "limited" in (await receive(ws, "error"))["detail"]
    assert await db(InboundEvent.objects.count)() == 0
    await ws.disconnect()


async def test_waiting_customer_sees_position_and_estimated_wait():
    await db(widget)()  # nobody online: both chats wait in the queue
    first, second = await connect(), await connect()
    for n, ws in enumerate((first, second), start=1):
        await hello(ws)
        await send(ws, {"type": "details", "name": f"Customer {n}"})
        await receive(ws, "welcome")
        await send(ws, {"type": "message", "id": "m", "text": f"hello from {n}"})
        await receive(ws, "ack")

    await send(second, {"type": "position"})
    status = (await receive(second, "chat.status"))["conversation"]
    assert (status["status"], status["position"]) == ("queued", 2)
    assert status["estimated_wait_seconds"] is None  # no pace yet to go by

    def served_one():
        # The queue served a case in the last hour: now there is a pace.
        agent = factories.agent("ana")
        case = Case.objects.get(messages__text="hello from 1")
        now = timezone.now()
        Offer.objects.create(
            case=case, agent=agent, channel_kind="web_chat", status="declined", created_at=now, expires_at=now
        )
        Offer.objects.create(
            case=factories.queued_case(case.channel),
            agent=agent,
            channel_kind="web_chat",
            status="accepted",
            created_at=now,
            expires_at=now,
        )

    await db(served_one)()
    await send(second, {"type": "position"})
    status = (await receive(second, "chat.status"))["conversation"]
    assert status["position"] == 2
    assert status["estimated_wait_seconds"] == 2 * 3600
    await first.disconnect()
    await second.disconnect()


def test_web_chat_messages_are_not_taken_as_webhooks(client):
    channel = widget()
    response = client.post(
        f"/hooks/{channel.key}/",
        data=json.dumps({"type": "message", "id": "x", "text": "hi"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert f"/ws/chat/{channel.key}/" in response.json()["detail"]
    assert InboundEvent.objects.count() == 0


def test_typing_over_the_api_is_for_the_agent_holding_a_live_chat():
    from django.test import Client

    chat = widget()
    agent, other = factories.agent("ana"), factories.agent("ben")
    case = factories.queued_case(chat)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED, assignee=agent, route_rank=None)
    email_case = factories.queued_case(factories.channel("mail", kind="email"))
    Case.objects.filter(pk=email_case.pk).update(status=CaseStatus.ASSIGNED, assignee=agent, route_rank=None)
    ana, ben = Client(), Client()
    ana.force_login(agent.user)
    ben.force_login(other.user)

    assert ana.post(f"/api/v1/cases/{case.pk}/typing/").status_code == 204
    refused = ana.post(f"/api/v1/cases/{email_case.pk}/typing/")
    assert refused.status_code == 409 and refused.json()["error"] == "not_a_chat"
    assert ben.post(f"/api/v1/cases/{case.pk}/typing/").status_code == 404  # not a case Ben may see


async def test_a_flood_of_frames_is_refused_without_touching_the_database():
    from connectors.webchat.consumer import FRAMES_PER_WINDOW

    await db(widget)()
    ws = await connect()
    await hello(ws)
    for n in range(FRAMES_PER_WINDOW + 5):
        await send(ws, {"type": "message", "id": f"f-{n}", "text": "spam"})
    answers = []
    while len(answers) < FRAMES_PER_WINDOW + 5:
        answer = json.loads(await ws.receive_from(timeout=5))
        if answer["type"] in ("ack", "error"):  # (status pushes of the new case come between)
            answers.append(answer)
    acks = [a for a in answers if a["type"] == "ack"]
    refused = [a for a in answers if a["type"] == "error"]
    assert len(acks) == FRAMES_PER_WINDOW - 1  # the hello counted too
    assert len(refused) == 6 and "too many frames" in refused[0]["detail"]
    assert await db(InboundEvent.objects.count)() == FRAMES_PER_WINDOW - 1
    await ws.disconnect()


async def test_the_widget_embedded_on_the_shops_own_domain_connects():
    """The shop's site is not one of ours (not in ALLOWED_HOSTS): the chat
    socket is public, its origin checked by the widget's own list."""
    await db(widget)(allowed_origins=["https://shop.example.com"])
    ws = WebsocketCommunicator(
        application,
        "/ws/chat/site-chat/",
        headers=[(b"origin", b"https://shop.example.com"), (b"host", b"chat.example.net")],
    )
    connected, code = await ws.connect()
    assert connected, code
    await ws.disconnect()


async def test_staff_sockets_still_refuse_a_foreign_origin():
    for path in ("/ws/agent/", "/ws/supervisor/"):
        ws = WebsocketCommunicator(
            application, path, headers=[(b"origin", b"https://shop.example.com"), (b"host", b"127.0.0.1:8000")]
        )
        connected, _ = await ws.connect()
        assert not connected, path
