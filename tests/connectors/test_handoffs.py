"""A chatbot hands over: ``POST /api/v1/handoffs/`` (token auth) makes one
case with the transcript as its first messages (bot and customer lines told
apart), routed at the priority the rules give, with a ``handoff`` event on
the timeline. Bad input gets a clear 4xx and makes no case."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from agents.models import Role
from cases.models import Case, CaseEvent, CaseStatus, Message
from connectors.models import Channel, InboundEvent
from routing.models import RoutingRule
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot_channel():
    return Channel.objects.create(
        key="support-bot",
        name="Support bot",
        kind="web_chat",
        provider="bot_handoff",
        default_queue=factories.queue("General"),
    )


@pytest.fixture
def bot_client():
    user = factories.user("bot-platform", role=Role.AGENT)
    user.user_permissions.add(Permission.objects.get(codename="add_case", content_type__app_label="cases"))
    token = Token.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def handoff(**fields) -> dict:
    body = {
        "channel": "support-bot",
        "conversation_id": "conv-881",
        "customer": {"kind": "email", "address": "Ana@Example.com", "name": "Ana"},
        "transcript": [
            {"from": "customer", "text": "My parcel is lost", "sent_at": "2026-11-23T10:00:00Z"},
            {"from": "bot", "text": "What is your order number?", "bot_name": "Sam"},
            {"from": "customer", "text": "Order 77, it is a refund I want"},
        ],
        "collected": {"order": "77", "topic": "delivery"},
        "reason": "customer asked for a person",
        "language": "es",
    }
    body.update(fields)
    return body


def post(client, body, **extra):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/handoffs/", data=raw, content_type="application/json", **extra)


def test_handoff_makes_a_case_with_the_transcript_first_and_a_handoff_event(
    bot_channel, bot_client, django_capture_on_commit_callbacks
):
    agent = factories.agent("ana")
    RoutingRule.objects.create(
        name="Refunds are urgent", queue=factories.queue("Refunds"), match_keywords="refund", set_priority=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(bot_client, handoff())

    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["case_id"])
    assert body["status"] == "created"
    assert (body["queue"], body["priority"]) == ("Refunds", 1)
    assert case.priority == 1 and case.queue.name == "Refunds"
    assert case.status in (CaseStatus.QUEUED, CaseStatus.OFFERED)
    assert case.customer.identities.filter(kind="email", address="ana@example.com").exists()
    lines = list(case.messages.values_list("direction", "bot_name", "text", "author_agent"))
    assert lines == [
        ("in", "", "My parcel is lost", None),
        ("out", "Sam", "What is your order number?", None),
        ("in", "", "Order 77, it is a refund I want", None),
    ]
    assert case.messages.first().sent_at.isoformat() == "2026-11-23T10:00:00+00:00"
    handoff_event = case.events.get(kind=CaseEvent.Kind.HANDOFF)
    assert handoff_event.data["reason"] == "customer asked for a person"
    assert handoff_event.data["collected"] == {"order": "77", "topic": "delivery"}
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.PROCESSED and event.dedupe_key == "conv-881"
    assert "Authorization" not in event.headers
    # Routed to people: the agent got the offer.
    assert case.offers.filter(agent=agent).exists()


def test_agent_sees_the_whole_transcript_in_the_case_api(bot_channel, bot_client):
    response = post(bot_client, handoff())
    admin = factories.user("root", role=Role.ADMIN)
    client = Client()
    client.force_login(admin)

    detail = client.get(f"/api/v1/cases/{response.json()['case_id']}/").json()

    assert [m["text"] for m in detail["messages"]] == [
        "My parcel is lost",
        "What is your order number?",
        "Order 77, it is a refund I want",
    ]


def test_retried_handoff_is_stored_once_and_answers_with_the_same_case(bot_channel, bot_client):
    first = post(bot_client, handoff())
    again = post(bot_client, handoff())

    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["case_id"] == first.json()["case_id"]
    assert Case.objects.count() == 1
    assert Message.objects.count() == 3
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"transcript": []}, "'transcript' is required"),
        ({"transcript": [{"from": "bot", "text": "hi"}]}, "no line from the customer"),
        ({"transcript": [{"from": "robot", "text": "hi"}]}, "'transcript[0].from' must be 'bot' or 'customer'"),
        ({"transcript": [{"from": "customer", "text": ""}]}, "'transcript[0].text' is required"),
        ({"transcript": ["hello"]}, "'transcript[0]' must be an object"),
        ({"transcript": [{"from": "customer", "text": "x" * 10_001}]}, "longer than 10000"),
        ({"transcript": [{"from": "customer", "text": "hi", "sent_at": "yesterday"}]}, "ISO 8601"),
        ({"reason": ""}, "'reason' is required"),
        ({"conversation_id": 5}, "'conversation_id' must be a string"),
        ({"customer": {"kind": "email", "address": "not-an-email"}}, "not an email address"),
        ({"customer": {"kind": "fax", "address": "1"}}, "'customer.kind' must be one of"),
        ({"customer": None}, "'customer' is required"),
        ({"collected": {"order": {"nested": 1}}}, "'collected.order' must be a string"),
        ({"collected": "x"}, "'collected' must be an object"),
    ],
)
def test_bad_handoff_is_refused_with_a_message_and_makes_no_case(bot_channel, bot_client, change, says):
    response = post(bot_client, handoff(**change))

    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert Case.objects.count() == 0
    # Kept, failed, for an admin to see what the bot sent.
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED and says in event.error


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("not json", 400, "invalid_payload"),
        ("[1]", 400, "invalid_payload"),
        ('{"conversation_id": "x"}', 400, "invalid_payload"),
        ('{"channel": "no-such-bot"}', 404, "unknown_channel"),
    ],
)
def test_unreadable_or_unknown_channel_is_refused_and_stores_nothing(bot_channel, bot_client, raw, status, code):
    response = post(bot_client, raw)

    assert response.status_code == status
    assert response.json()["error"] == code
    assert InboundEvent.objects.count() == 0


def test_handoff_to_a_channel_that_is_not_a_bot_is_404(bot_client):
    factories.channel("support-bot")  # generic_json
    response = post(bot_client, handoff())
    assert response.status_code == 404


def test_handoff_needs_json(bot_channel, bot_client):
    response = bot_client.post("/api/v1/handoffs/", data="a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_handoff_needs_a_token_with_the_right(bot_channel):
    assert post(Client(), handoff()).status_code == 401
    plain = Token.objects.create(user=factories.user("plain-agent"))
    response = post(Client(HTTP_AUTHORIZATION=f"Token {plain.key}"), handoff())
    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_handoff_can_also_arrive_signed_at_the_channel_hook(bot_channel, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = factories.post_webhook(client, bot_channel, handoff())

    assert response.status_code == 202
    case = Case.objects.get()
    assert case.events.filter(kind=CaseEvent.Kind.HANDOFF).exists()
    assert case.messages.count() == 3
