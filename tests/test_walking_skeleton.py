"""The walking skeleton end to end through the real ASGI application:
signed webhook → stored event → case → offer on /ws/agent/ → accept over the
websocket → assigned → reply recorded as an outbound message."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from cases.models import Case, CaseEvent, CaseStatus, Message
from config.asgi import application
from connectors.models import InboundEvent
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(user) -> WebsocketCommunicator:
    cookie = await sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")],
    )
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


async def _receive(communicator, type_: str, timeout: float = 5) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == type_:
            return message


async def test_webhook_to_offer_to_accept_to_reply():
    def setup():
        queue = factories.queue("General")
        channel = factories.channel("web", default_queue=queue)
        agent = factories.agent("ana", skills={"lang-es": 4})
        return channel, agent

    channel, agent = await database_sync_to_async(setup)()
    ws = await _connect(agent.user)
    snapshot = await _receive(ws, "snapshot")
    assert snapshot["agent"]["id"] == agent.pk
    assert snapshot["offers"] == []

    body = factories.payload(id="m-1", language="es", text="Hola, mi pedido no llegó")
    response = await sync_to_async(factories.post_webhook)(Client(), channel, body)
    assert response.status_code == 202, response.content

    offer_msg = await _receive(ws, "offer.created")
    offer = offer_msg["offer"]
    assert offer["preview"] == "Hola, mi pedido no llegó"
    assert offer["channel_kind"] == "api"

    await ws.send_json_to({"type": "offer.accept", "offer_id": offer["id"], "request_id": 7})
    ack = await _receive(ws, "ack")
    assert ack["request_id"] == 7
    case_id = ack["case_id"]

    await ws.send_json_to(
        {"type": "case.reply", "case_id": case_id, "text": "¡Hola! Lo reviso ahora.", "request_id": 8}
    )
    ack = await _receive(ws, "ack")
    assert ack["request_id"] == 8
    await ws.disconnect()

    def check():
        case = Case.objects.get(pk=case_id)
        assert case.status == CaseStatus.ASSIGNED
        assert case.assignee_id == agent.pk
        assert case.first_offered_at and case.first_assigned_at and case.first_response_at
        assert case.language == "es"
        assert [m.direction for m in case.messages.order_by("pk")] == ["in", "out"]
        reply = case.messages.get(direction=Message.Direction.OUTBOUND)
        assert reply.author_agent_id == agent.pk
        assert reply.delivery_status == Message.Delivery.SENT
        assert Offer.objects.get(pk=offer["id"]).status == Offer.Status.ACCEPTED
        event = InboundEvent.objects.get()
        assert event.status == InboundEvent.Status.PROCESSED and event.message.case_id == case_id
        kinds = list(case.events.values_list("kind", flat=True))
        assert kinds[:2] == [CaseEvent.Kind.CREATED, CaseEvent.Kind.MESSAGE_RECEIVED]
        assert (
            CaseEvent.Kind.OFFERED in kinds and CaseEvent.Kind.ASSIGNED in kinds and CaseEvent.Kind.REPLY_SENT in kinds
        )

    await database_sync_to_async(check)()


async def test_decline_over_websocket_reoffers_to_another_agent():
    def setup():
        channel = factories.channel("web", default_queue=factories.queue("General"))
        first = factories.agent("ana", total=5)
        second = factories.agent("ben", total=5, present=False)
        return channel, first, second

    channel, first, second = await database_sync_to_async(setup)()
    ws1 = await _connect(first.user)
    await _receive(ws1, "snapshot")
    await sync_to_async(factories.post_webhook)(Client(), channel, factories.payload(id="m-2"))
    offer = (await _receive(ws1, "offer.created"))["offer"]

    ws2 = await _connect(second.user)  # the second agent comes online now
    await _receive(ws2, "snapshot")
    await ws1.send_json_to({"type": "offer.decline", "offer_id": offer["id"], "reason": "Wrong language"})
    await _receive(ws1, "offer.closed")
    reoffer = (await _receive(ws2, "offer.created"))["offer"]
    assert reoffer["case_id"] == offer["case_id"]
    await ws1.disconnect()
    await ws2.disconnect()

    declined = await database_sync_to_async(Offer.objects.get)(pk=offer["id"])
    assert declined.status == Offer.Status.DECLINED and declined.decline_reason == "Wrong language"


async def test_anonymous_socket_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    )
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_socket_from_a_foreign_origin_is_refused():
    agent = await database_sync_to_async(factories.agent)("ana")
    cookie = await sync_to_async(_session_cookie)(agent.user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[(b"cookie", cookie), (b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8000")],
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_bad_request_on_socket_gets_an_error_and_changes_nothing():
    agent = await database_sync_to_async(factories.agent)("ana")
    ws = await _connect(agent.user)
    await _receive(ws, "snapshot")
    await ws.send_json_to({"type": "offer.accept", "offer_id": "not-a-number"})
    error = await _receive(ws, "error")
    assert "offer_id" in error["detail"]
    await ws.send_json_to({"type": "offer.accept", "offer_id": 999999})
    error = await _receive(ws, "error")
    assert "no offer" in error["detail"]
    await ws.send_to(text_data=json.dumps([1, 2]))
    await _receive(ws, "error")
    await ws.disconnect()
