"""What the agent workspace relies on besides its page: internal notes, an
agent transferring the case they hold, the snapshot's queues and promises,
and live delivery statuses of the agent's replies on /ws/agent/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from cases.models import CaseEvent, CaseStatus, Message
from connectors import services as connector_services
from dashboards import selectors
from tests import factories
from tests.dashboards.conftest import connect, receive


@pytest.fixture
def held(client):
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana", capacity={"api": 2}, total=2)
    case = factories.held_case(chan, ana)
    client.force_login(ana.user)
    return chan, ana, case


@pytest.mark.django_db
def test_an_agent_adds_an_internal_note_that_is_never_sent(client, held):
    _, ana, case = held
    answer = client.post(
        f"/api/v1/cases/{case.pk}/note/", {"text": "  VIP, be gentle  "}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["direction"] == "note" and answer.json()["author"] == ana.display_name
    note = case.messages.get()
    assert (note.direction, note.text, note.author_agent_id) == (Message.Direction.NOTE, "VIP, be gentle", ana.pk)
    assert note.delivery_status == Message.Delivery.RECEIVED  # nothing queued for the customer
    assert case.events.filter(kind=CaseEvent.Kind.NOTE_ADDED, agent=ana).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"text": "   "}, {"text": ""}, {}, {"text": "x" * 20_001}])
def test_a_bad_note_is_refused_and_changes_nothing(client, held, body):
    _, _, case = held
    answer = client.post(f"/api/v1/cases/{case.pk}/note/", body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()  # says what is wrong
    assert not case.messages.exists() and not case.events.filter(kind=CaseEvent.Kind.NOTE_ADDED).exists()


@pytest.mark.django_db
def test_only_the_agent_holding_an_open_case_adds_notes(client, held):
    chan, ana, case = held
    ben = factories.agent("ben")
    client.force_login(ben.user)
    assert client.post(f"/api/v1/cases/{case.pk}/note/", {"text": "hi"}).status_code in (403, 404)
    client.force_login(ana.user)
    resolved = factories.held_case(chan, ana, status="resolved")
    assert client.post(f"/api/v1/cases/{resolved.pk}/note/", {"text": "late"}).status_code == 409
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_agent_transfers_the_case_they_hold_to_another_queue(client, held):
    _, ana, case = held
    billing = factories.queue("Billing")
    answer = client.post(f"/api/v1/cases/{case.pk}/transfer/", {"queue": billing.pk}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert case.queue == billing and case.assignee_id is None
    assert case.status in (CaseStatus.QUEUED, CaseStatus.OFFERED)
    assert case.events.filter(kind=CaseEvent.Kind.TRANSFERRED).count() == 1


@pytest.mark.django_db
def test_an_agent_gives_the_case_they_hold_to_a_colleague_free_to_take_it(client, held):
    _, ana, case = held
    ben = factories.agent("ben")
    answer = client.post(f"/api/v1/cases/{case.pk}/transfer/", {"agent": ben.pk}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert case.assignee == ben and case.status == CaseStatus.ASSIGNED
    assert case.events.filter(kind=CaseEvent.Kind.REASSIGNED, agent=ben).count() == 1


@pytest.mark.django_db
def test_a_colleague_who_may_not_take_it_is_refused_and_nothing_changes(client, held):
    _, ana, case = held
    away = factories.agent("ben", presence=factories.status("Lunch", []))
    answer = client.post(f"/api/v1/cases/{case.pk}/transfer/", {"agent": away.pk}, content_type="application/json")
    assert answer.status_code == 409 and "Ben may not take" in answer.json()["detail"]
    case.refresh_from_db()
    assert case.assignee == ana and not case.events.filter(kind=CaseEvent.Kind.REASSIGNED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"queue": 1, "agent": 1}, {"agent": 0}, {"agent": "x"}])
def test_a_transfer_names_either_a_queue_or_an_agent(client, held, body):
    _, ana, case = held
    answer = client.post(f"/api/v1/cases/{case.pk}/transfer/", body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()
    case.refresh_from_db()
    assert case.assignee == ana and case.status == CaseStatus.ASSIGNED


@pytest.mark.django_db
def test_an_agent_may_not_transfer_a_case_someone_else_holds(client, held):
    chan, ana, _ = held
    ben = factories.agent("ben")
    bens = factories.held_case(chan, ben)
    billing = factories.queue("Billing")
    answer = client.post(f"/api/v1/cases/{bens.pk}/transfer/", {"queue": billing.pk}, content_type="application/json")
    assert answer.status_code in (403, 404)
    bens.refresh_from_db()
    assert bens.assignee == ben and bens.queue == chan.default_queue
    assert not bens.events.filter(kind=CaseEvent.Kind.TRANSFERRED).exists()


@pytest.mark.django_db
def test_the_snapshot_lists_active_queues_and_each_cases_next_promise(held):
    from sla.models import Promise

    _, ana, case = held
    factories.queue("Closed", is_active=False)
    now = timezone.now()
    for hours, status in ((5, Promise.Status.OPEN), (2, Promise.Status.OPEN), (1, Promise.Status.KEPT)):
        Promise.objects.create(
            case=case,
            customer=case.customer,
            agent=ana,
            due_at=now + timedelta(hours=hours),
            remind_at=now,
            channel_kind="api",
            status=status,
            created_at=now,
        )
    snapshot = selectors.agent_snapshot(ana.pk)
    assert [q["name"] for q in snapshot["queues"]] == ["General"]
    assert snapshot["promises"] == {case.pk: (now + timedelta(hours=2)).isoformat()}


def _sent_reply():
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana")
    case = factories.held_case(chan, ana)
    message = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        channel=chan,
        channel_kind=chan.kind,
        text="On its way",
        author_agent=ana,
        provider_message_id="prov-1",
        delivery_status=Message.Delivery.SENT,
        created_at=timezone.now(),
    )
    return chan, ana, case, message


def _report(chan, status: str, error: str = "") -> int:
    with transaction.atomic():
        return connector_services.update_delivery(
            channel=chan, provider_message_id="prov-1", status=status, error=error
        )


@pytest.mark.django_db(transaction=True)
async def test_delivery_statuses_of_a_reply_reach_the_agents_socket_live():
    chan, ana, case, message = await database_sync_to_async(_sent_reply)()
    ws, connected, code = await connect(ana.user, path="/ws/agent/")
    assert connected, code
    await receive(ws, "snapshot")

    assert await database_sync_to_async(_report)(chan, "delivered") == 1
    pushed = await receive(ws, "message.status")
    assert pushed == {
        "type": "message.status",
        "case": case.pk,
        "message": message.pk,
        "status": "delivered",
        "error": "",
    }
    assert await database_sync_to_async(_report)(chan, "failed", "131026: receiver incapable") == 1
    pushed = await receive(ws, "message.status")
    assert (pushed["status"], pushed["error"]) == ("failed", "131026: receiver incapable")
    # A late 'sent' after 'failed' changes nothing and pushes nothing.
    assert await database_sync_to_async(_report)(chan, "sent") == 0
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()
    assert await sync_to_async(lambda: Message.objects.get(pk=message.pk).delivery_status)() == "failed"


def _chat_world():
    from connectors.models import Channel

    Channel.objects.create(
        key="site-chat", name="Site chat", kind="web_chat", provider="webchat", default_queue=factories.queue("Chat")
    )
    return factories.agent("ana")


def _accept_the_offer(agent):
    from routing.models import Offer
    from routing.offers import accept_offer

    offer = Offer.objects.get(agent=agent, status=Offer.Status.PENDING)
    return accept_offer(offer_id=offer.pk, agent=agent, now=timezone.now()).pk


async def _drain(ws) -> list[dict]:
    out = []
    while not await ws.receive_nothing(timeout=0.3):
        out.append(await ws.receive_json_from())
    return out


@pytest.mark.django_db(transaction=True)
async def test_the_customer_typing_in_the_widget_reaches_the_agent_holding_the_chat():
    import json

    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    ana = await database_sync_to_async(_chat_world)()
    agent_ws, connected, code = await connect(ana.user, path="/ws/agent/")
    assert connected, code
    await receive(agent_ws, "snapshot")
    chat = WebsocketCommunicator(
        application,
        "/ws/chat/site-chat/",
        headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")],
    )
    assert (await chat.connect())[0]
    for frame in (
        {"type": "hello"},
        {"type": "details", "name": "María"},
        {"type": "message", "id": "c-1", "text": "Hi"},
    ):
        await chat.send_to(text_data=json.dumps(frame))
    await receive(agent_ws, "offer.created")

    # Offered, not yet taken: nobody is shown the typing.
    await chat.send_to(text_data=json.dumps({"type": "typing"}))
    assert [m for m in await _drain(agent_ws) if m["type"] == "customer.typing"] == []

    case_id = await database_sync_to_async(_accept_the_offer)(ana)
    await chat.send_to(text_data=json.dumps({"type": "typing"}))
    assert await receive(agent_ws, "customer.typing") == {"type": "customer.typing", "case_id": case_id}
    await chat.disconnect()
    await agent_ws.disconnect()
