"""Websockets let no one in and tell no one more than they may see: staff
sockets need a session and an origin among ALLOWED_HOSTS, the chat socket
an origin the widget allows; an agent's socket carries only that agent's
offers and cases, a supervisor's only their teams' queues and agents, a
chat visitor's only their own conversation.

"Received nothing" is proven with a fence, not a wait: after the events,
a marker is sent through the channel layer to the socket's own group; the
layer keeps each channel's order, so whatever the events sent to this
socket arrived before the marker."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from agents.models import Role, Team
from cases.events import EscalationRaised
from cases.models import Case, Message
from config.asgi import application
from config.events import publish_on_commit
from connectors.models import Channel
from connectors.providers.webchat import chat_group
from dashboards.scope import agent_group, team_group
from routing.models import Offer
from tests import factories
from tests.dashboards.conftest import connect, fresh_sequences, receive  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
HOST = (b"host", b"127.0.0.1:8000")
SHOP = "https://shop.example.com"


async def before_fence(ws: WebsocketCommunicator, group: str, handler: str) -> list[dict]:
    """Everything the socket got until a marker sent to ``group`` now."""
    await get_channel_layer().group_send(group, {"type": handler, "text": '{"type": "fence"}', "fence": True})
    got = []
    while True:
        message = json.loads(await ws.receive_from(timeout=5))
        if message.get("type") == "fence" or message.get("fence"):
            return got
        got.append(message)


# --- Who may connect -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/agent/", "/ws/supervisor/"])
async def test_staff_sockets_refuse_anonymous_visitors(path):
    ws, connected, code = await connect(None, path=path)
    assert (connected, code) == (False, 4401)


@pytest.mark.parametrize("path", ["/ws/agent/", "/ws/supervisor/"])
@pytest.mark.parametrize(
    "origin",
    [(b"origin", b"https://evil.example"), (b"origin", SHOP.encode()), (b"origin", b"null"), (b"x-no-origin", b"")],
)
async def test_staff_sockets_refuse_origins_outside_allowed_hosts_even_with_a_session(path, origin):
    user = await db(factories.user)("root", role=Role.ADMIN)
    await db(factories.agent)("ana")
    for who in (user, await db(lambda: factories.agent("bob").user)()):
        ws, connected, _ = await connect(who, path=path, origin=origin)
        assert not connected
    ws, connected, code = await connect(user, path="/ws/supervisor/")
    assert connected, code  # the same session from an allowed origin: in
    await ws.disconnect()


async def test_the_agent_socket_refuses_a_user_who_is_not_an_active_agent():
    supervisor = await db(factories.user)("sam", role=Role.SUPERVISOR)
    ws, connected, code = await connect(supervisor, path="/ws/agent/")
    assert (connected, code) == (False, 4403)
    ana = await db(factories.agent)("ana")
    await db(lambda: type(ana).objects.filter(pk=ana.pk).update(is_active=False))()
    ws, connected, code = await connect(ana.user, path="/ws/agent/")
    assert (connected, code) == (False, 4403)


def _widget() -> Channel:
    queue = factories.queue("Chat")
    return Channel.objects.create(
        key="site-chat",
        name="Site chat",
        kind="web_chat",
        provider="webchat",
        default_queue=queue,
        config={"allowed_origins": [SHOP]},
    )


async def _chat(origin: bytes | None) -> tuple[WebsocketCommunicator, bool, int]:
    headers = [HOST] + ([(b"origin", origin)] if origin is not None else [])
    ws = WebsocketCommunicator(application, "/ws/chat/site-chat/", headers=headers)
    connected, code = await ws.connect()
    return ws, connected, code


@pytest.mark.parametrize("origin", [b"https://evil.example", b"http://127.0.0.1:8000", b"null", None])
async def test_the_chat_socket_refuses_origins_its_widget_does_not_allow(origin):
    await db(_widget)()
    _, connected, code = await _chat(origin)
    assert (connected, code) == (False, 4403)
    ws, connected, code = await _chat(SHOP.encode())  # the shop's own site, not one of ALLOWED_HOSTS: in
    assert connected, code
    await ws.disconnect()


# --- An agent sees their own offers and cases only -----------------------------------


def _two_agents():
    """Ana takes API cases; Ben takes only email, so Ana is offered the case."""
    chan = factories.channel("shop", default_queue=factories.queue("General"))
    ana = factories.agent("ana", capacity={"api": 2})
    ben = factories.agent("ben", capacity={"email": 2})
    return chan, ana, ben


def _customer_writes(chan, text: str, thread: str = "t-1") -> None:
    sender = {"kind": "email", "address": "ines@example.com", "name": "Inés Secreta"}
    assert factories.post_webhook(Client(), chan, factories.payload(**{"from": sender}, text=text, thread=thread))


async def _request(ws, **frame) -> dict:
    await ws.send_json_to(frame)
    while True:
        answer = await ws.receive_json_from(timeout=5)
        if answer["type"] in ("ack", "error") and answer.get("request") == frame["type"]:
            return answer


async def test_an_agents_socket_never_carries_another_agents_offers_cases_or_messages():
    chan, ana, ben = await db(_two_agents)()
    ana_ws, ok, _ = await connect(ana.user, path="/ws/agent/")
    ben_ws, ok2, _ = await connect(ben.user, path="/ws/agent/")
    assert ok and ok2
    await receive(ana_ws, "snapshot")
    await receive(ben_ws, "snapshot")

    await db(_customer_writes)(chan, "my card number is in-this-case")
    offer = await receive(ana_ws, "offer.created")
    case_id = offer["offer"]["case_id"]
    assert (await _request(ana_ws, type="offer.accept", offer_id=offer["offer"]["id"]))["type"] == "ack"
    await db(_customer_writes)(chan, "and my address too")
    await receive(ana_ws, "message.added")
    assert (await _request(ana_ws, type="case.reply", case_id=case_id, text="On it, Inés"))["type"] == "ack"

    got = await before_fence(ben_ws, agent_group(ben.pk), "agent.updated")
    assert [m for m in got if m["type"] != "agent.updated"] == []
    assert all(m["agent"]["id"] == ben.pk for m in got)
    assert "Inés" not in json.dumps(got, ensure_ascii=False)
    # What Ben asks for about Ana's case is refused, and changes nothing.
    for frame in (
        {"type": "case.open", "case_id": case_id},
        {"type": "case.reply", "case_id": case_id, "text": "hijack"},
        {"type": "case.resolve", "case_id": case_id},
        {"type": "case.waiting", "case_id": case_id},
        {"type": "offer.accept", "offer_id": offer["offer"]["id"]},
        {"type": "offer.decline", "offer_id": offer["offer"]["id"]},
    ):
        answer = await _request(ben_ws, **frame)
        assert answer["type"] == "error", (frame, answer)
        assert "Inés" not in json.dumps(answer, ensure_ascii=False)
    snapshot = (await _request(ben_ws, type="snapshot"))["snapshot"]
    assert "Inés" not in json.dumps(snapshot, ensure_ascii=False)
    case = await db(Case.objects.get)(pk=case_id)
    assert (case.assignee_id, case.status) == (ana.pk, "assigned")
    assert not await db(Message.objects.filter(text="hijack").exists)()
    await ana_ws.disconnect()
    await ben_ws.disconnect()


async def test_an_offer_to_one_agent_is_not_theirs_to_accept_by_another():
    chan, ana, ben = await db(_two_agents)()
    await db(_customer_writes)(chan, "hello")
    offer = await db(Offer.objects.get)(agent=ana)
    ben_ws, ok, _ = await connect(ben.user, path="/ws/agent/")
    assert ok
    answer = await _request(ben_ws, type="offer.accept", offer_id=offer.pk)
    assert answer["type"] == "error"
    assert (await db(Offer.objects.get)(pk=offer.pk)).status == Offer.Status.PENDING
    await ben_ws.disconnect()


# --- A supervisor sees their teams only ------------------------------------------------


def _two_teams():
    sales, support = Team.objects.create(name="Sales"), Team.objects.create(name="Support")
    q_sales = factories.queue("Sales", team=sales)
    q_support = factories.queue("Support", team=support)
    ana = factories.agent("ana", teams=[sales])
    ben = factories.agent("ben", teams=[support])
    sam = factories.user("sam", role=Role.SUPERVISOR)
    sales.supervisors.add(sam)
    admin = factories.user("root", role=Role.ADMIN)
    return {
        "sales": sales,
        "support": support,
        "q_sales": q_sales,
        "q_support": q_support,
        "ana": ana,
        "ben": ben,
        "sam": sam,
        "admin": admin,
        "support_chan": factories.channel("support", default_queue=q_support),
        "sales_chan": factories.channel("sales", default_queue=q_sales),
    }


def _support_and_sales_change(w) -> None:
    from agents import services

    services.set_status(agent_id=w["ben"].pk, status_id=factories.status("Away", []).pk, now=timezone.now())
    assert factories.post_webhook(Client(), w["support_chan"], factories.payload(text="support-only"))
    publish_on_commit(
        EscalationRaised(kind="sla_breach", case_id=None, queue_id=w["q_support"].pk, detail="support-breach")
    )
    services.set_status(agent_id=w["ana"].pk, status_id=factories.status("Away", []).pk, now=timezone.now())
    publish_on_commit(
        EscalationRaised(kind="sla_breach", case_id=None, queue_id=w["q_sales"].pk, detail="sales-breach")
    )


async def test_a_supervisors_socket_never_carries_another_teams_queues_agents_or_escalations():
    w = await db(_two_teams)()
    sam_ws, ok, _ = await connect(w["sam"])
    admin_ws, ok2, _ = await connect(w["admin"])
    assert ok and ok2
    snap = await receive(sam_ws, "snapshot")
    await receive(admin_ws, "snapshot")
    assert [q["name"] for q in snap["queues"]] == ["Sales"] and [a["name"] for a in snap["agents"]] == ["Ana"]

    await db(_support_and_sales_change)(w)

    sam_got = await before_fence(sam_ws, team_group(w["sales"].pk), "supervisor.heartbeat")
    admin_got = await before_fence(admin_ws, "sup.admins", "supervisor.heartbeat")
    text = json.dumps(sam_got)
    assert "support-breach" not in text and "support-only" not in text
    queues = {q["id"] for d in sam_got for q in d.get("queues", [])}
    agents = {a["id"] for d in sam_got for a in d.get("agents", [])}
    assert queues <= {w["q_sales"].pk} and agents == {w["ana"].pk}
    assert "sales-breach" in text
    # The admin saw the Support changes: so they were sent, just not to Sam.
    admin_text = json.dumps(admin_got)
    assert "support-breach" in admin_text and w["ben"].pk in {a["id"] for d in admin_got for a in d.get("agents", [])}
    await sam_ws.disconnect()
    await admin_ws.disconnect()


# --- A chat visitor sees their own conversation only -----------------------------------


async def _visitor(name: str) -> tuple[WebsocketCommunicator, dict]:
    ws, connected, code = await _chat(SHOP.encode())
    assert connected, code
    await ws.send_to(text_data=json.dumps({"type": "hello"}))
    await ws.send_to(text_data=json.dumps({"type": "details", "name": name}))
    welcome = None
    while welcome is None or welcome["needs_details"]:
        message = json.loads(await ws.receive_from(timeout=5))
        welcome = message if message["type"] == "welcome" else welcome
    return ws, welcome


def _visitor_thread(token: str) -> str:
    from connectors.webchat.visitors import visitor_from_token

    return visitor_from_token(token, channel_key="site-chat").thread_key


async def test_a_chat_visitor_never_receives_another_visitors_conversation():
    from cases.services import send_reply

    chan = await db(_widget)()
    ana = await db(factories.agent)("ana")
    alba_ws, alba = await _visitor("Alba")
    bruno_ws, bruno = await _visitor("Bruno")
    await alba_ws.send_to(text_data=json.dumps({"type": "message", "id": "a-1", "text": "alba-private-words"}))
    await bruno_ws.send_to(text_data=json.dumps({"type": "message", "id": "b-1", "text": "bruno-words"}))

    def answer_alba() -> int:
        case = Case.objects.get(messages__text="alba-private-words")
        offer = Offer.objects.filter(case=case, status=Offer.Status.PENDING).first()
        if offer is not None:
            from routing.offers import accept_offer

            accept_offer(offer_id=offer.pk, agent=offer.agent, now=timezone.now())
            case.refresh_from_db()
        send_reply(case_id=case.pk, agent=case.assignee, text="for-alba-only", now=timezone.now())
        return case.pk

    while True:  # Alba's message is stored and her case exists
        message = json.loads(await alba_ws.receive_from(timeout=5))
        if message["type"] == "ack" and message.get("id") == "a-1":
            break
    while True:
        message = json.loads(await bruno_ws.receive_from(timeout=5))
        if message["type"] == "ack" and message.get("id") == "b-1":
            break
    assert ana  # the agent who answers
    await db(answer_alba)()
    got_alba = await before_fence(alba_ws, chat_group(chan.pk, _visitor_thread(alba["token"])), "chat.status")
    got_bruno = await before_fence(bruno_ws, chat_group(chan.pk, _visitor_thread(bruno["token"])), "chat.status")
    assert "for-alba-only" in json.dumps(got_alba)
    assert "alba" not in json.dumps(got_bruno).lower()
    # A forged token is a new conversation, not Alba's.
    thief, connected, _ = await _chat(SHOP.encode())
    assert connected
    await thief.send_to(text_data=json.dumps({"type": "hello", "token": alba["token"][:-4] + "AAAA"}))
    welcome = json.loads(await thief.receive_from(timeout=5))
    assert welcome["type"] == "welcome" and welcome["messages"] == [] and welcome["conversation"]["case_id"] is None
    for ws in (alba_ws, bruno_ws, thief):
        await ws.disconnect()
