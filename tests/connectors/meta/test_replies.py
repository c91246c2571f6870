"""Replies through the Graph API (played on loopback) and the 24-hour
customer service window of WhatsApp and Messenger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import selectors as case_selectors
from cases import services as case_services
from cases.models import Case, Message
from connectors.providers.meta import MetaProvider
from dashboards.selectors import case_payload
from tests import factories
from tests.connectors.meta.conftest import (
    PAGE_ID,
    PHONE_NUMBER_ID,
    messaging,
    meta_channel,
    page_body,
    wa_message,
    whatsapp_body,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def whatsapp_case(send_meta, graph_api, agent_for_all):
    base, _ = graph_api
    channel = meta_channel("wa", "whatsapp", queue=factories.queue("WhatsApp", auto_accept=True), api_base=base)
    send_meta(channel, whatsapp_body(wa_message("wamid.IN")))
    case = Case.objects.get()
    assert case.assignee_id == agent_for_all.pk
    return case


def _reply(case, capture, text="Your parcel ships today", now=None):
    with capture(execute=True):
        message = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=now or timezone.now())
    message.refresh_from_db()
    return message


def test_whatsapp_reply_is_posted_to_the_cloud_api(whatsapp_case, graph_api, django_capture_on_commit_callbacks):
    _, api = graph_api
    message = _reply(whatsapp_case, django_capture_on_commit_callbacks)

    assert message.delivery_status == "sent"
    assert message.provider_message_id == "wamid.OUT1"
    [request] = api.requests
    assert request["path"] == f"/v19.0/{PHONE_NUMBER_ID}/messages"
    assert request["headers"]["Authorization"] == "Bearer EAAG-test-token"
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "Your parcel ships today"},
    }


def test_messenger_reply_uses_the_send_api(send_meta, graph_api, agent_for_all, django_capture_on_commit_callbacks):
    base, api = graph_api
    channel = meta_channel("page", "messenger", queue=factories.queue("M", auto_accept=True), api_base=base)
    send_meta(channel, page_body(messaging("1254459154682919", message={"mid": "m_1", "text": "hi"})))
    message = _reply(Case.objects.get(), django_capture_on_commit_callbacks, text="Hello!")
    assert message.delivery_status == "sent" and message.provider_message_id == "m_OUT1"
    assert api.requests[0]["path"] == "/v19.0/me/messages"
    assert api.requests[0]["body"] == {
        "recipient": {"id": "1254459154682919"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello!"},
    }
    assert Case.objects.get().thread_key.startswith(f"messenger:{PAGE_ID}:")


def test_refusal_fails_the_reply_with_metas_message(whatsapp_case, graph_api, django_capture_on_commit_callbacks):
    _, api = graph_api
    api.answers.append(
        (400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                         "error_data": {"details": "to is not a valid WhatsApp user"}, "fbtrace_id": "AbC"}})
    )  # fmt: skip
    message = _reply(whatsapp_case, django_capture_on_commit_callbacks)
    assert message.delivery_status == "failed"
    assert message.delivery_error == "Meta answered 400: (#100) Invalid parameter"


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": {"message": "An unexpected error has occurred.", "code": 2}}),
        (503, {}),
        (429, {"error": {"message": "Too many calls", "code": 80007}}),
        (400, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}),
    ],
)
def test_server_errors_and_throttling_ask_for_a_retry(whatsapp_case, graph_api, answer):
    _, api = graph_api
    api.answers.append(answer)
    message = Message(case=whatsapp_case, channel=whatsapp_case.channel, text="hi", created_at=timezone.now())
    result = MetaProvider().send(channel=whatsapp_case.channel, message=message)
    assert result.status == "retry"
    assert result.error.startswith(f"Meta answered {answer[0]}")


def test_unreachable_graph_api_asks_for_a_retry(whatsapp_case):
    channel = whatsapp_case.channel
    channel.config["api_base"] = "http://127.0.0.1:9"
    message = Message(case=whatsapp_case, channel=channel, text="hi", created_at=timezone.now())
    result = MetaProvider().send(channel=channel, message=message)
    assert result.status == "retry" and "did not answer" in result.error


def test_channel_without_an_access_token_fails_clearly(whatsapp_case):
    channel = whatsapp_case.channel
    channel.config.pop("access_token")
    message = Message(case=whatsapp_case, channel=channel, text="hi", created_at=timezone.now())
    result = MetaProvider().send(channel=channel, message=message)
    assert result.status == "failed" and "access_token" in result.error


# -- the 24-hour window ----------------------------------------------------------


def test_window_closes_24_hours_after_the_customers_last_message(whatsapp_case):
    last = whatsapp_case.last_customer_message_at
    assert case_selectors.reply_window_closes_at(whatsapp_case) == last + timedelta(hours=24)
    assert case_selectors.is_reply_window_open(whatsapp_case, now=last + timedelta(hours=23, minutes=59))
    assert not case_selectors.is_reply_window_open(whatsapp_case, now=last + timedelta(hours=24))


def test_messenger_case_the_customer_never_wrote_on_is_closed_from_the_start():
    channel = meta_channel("page", "messenger")
    now = timezone.now()
    case = Case.objects.create(customer=factories.customer(), channel=channel, channel_kind="messenger", created_at=now)
    assert case_selectors.reply_window_closes_at(case) == now
    assert not case_selectors.is_reply_window_open(case, now=now)


def test_instagram_has_a_window_and_page_comments_have_none():
    channel = meta_channel("page", "messenger")
    now = timezone.now()
    customer = factories.customer()
    instagram = Case.objects.create(
        customer=customer, channel=channel, channel_kind="instagram", created_at=now, last_customer_message_at=now
    )
    comment = Case.objects.create(customer=customer, channel=channel, channel_kind="social", created_at=now)
    assert case_selectors.reply_window_closes_at(instagram) == now + timedelta(hours=24)
    assert case_selectors.reply_window_closes_at(comment) is None


def test_channels_without_a_window_have_none():
    channel = factories.channel("mail", kind="email")
    case = Case.objects.create(
        customer=factories.customer(), channel=channel, channel_kind="email", created_at=timezone.now()
    )
    assert case_selectors.reply_window_closes_at(case) is None
    assert case_selectors.is_reply_window_open(case, now=timezone.now() + timedelta(days=30))


def test_reply_api_refuses_outside_the_window_and_sends_nothing(client, whatsapp_case, graph_api):
    _, api = graph_api
    Case.objects.filter(pk=whatsapp_case.pk).update(last_customer_message_at=timezone.now() - timedelta(hours=25))
    client.force_login(whatsapp_case.assignee.user)

    answer = client.post(
        f"/api/v1/cases/{whatsapp_case.pk}/reply/", {"text": "Still there?"}, content_type="application/json"
    )

    assert answer.status_code == 409
    assert answer.json()["error"] == "reply_window_closed"
    assert "template" in answer.json()["detail"]
    assert Message.objects.filter(direction="out").count() == 0
    assert api.requests == []


def test_customers_new_message_reopens_the_window(send_meta, client, whatsapp_case):
    Case.objects.filter(pk=whatsapp_case.pk).update(last_customer_message_at=timezone.now() - timedelta(hours=25))
    send_meta(whatsapp_case.channel, whatsapp_body(wa_message("wamid.IN2")))
    client.force_login(whatsapp_case.assignee.user)
    answer = client.post(f"/api/v1/cases/{whatsapp_case.pk}/reply/", {"text": "Hi"}, content_type="application/json")
    assert answer.status_code == 201


def test_window_is_in_the_case_api_and_the_workspace_payload(client, whatsapp_case):
    client.force_login(whatsapp_case.assignee.user)
    expected = (whatsapp_case.last_customer_message_at + timedelta(hours=24)).isoformat()
    detail = client.get(f"/api/v1/cases/{whatsapp_case.pk}/").json()
    assert detail["window_closes_at"].replace("Z", "+00:00") == expected
    listed = client.get("/api/v1/cases/").json()["results"][0]
    assert listed["window_closes_at"] == detail["window_closes_at"]
    payload = case_payload(Case.objects.select_related("customer", "queue").get(pk=whatsapp_case.pk))
    assert payload["window_closes_at"].replace("Z", "+00:00") == expected


def test_provider_refuses_a_send_outside_the_window_too(whatsapp_case, graph_api):
    _, api = graph_api
    late = whatsapp_case.last_customer_message_at + timedelta(hours=25)
    message = Message(case=whatsapp_case, channel=whatsapp_case.channel, text="hi", created_at=late)
    result = MetaProvider().send(channel=whatsapp_case.channel, message=message)
    assert result.status == "failed" and "24-hour" in result.error
    assert api.requests == []


# -- approved templates ----------------------------------------------------------


def test_template_goes_out_when_the_window_is_closed(
    client, whatsapp_case, graph_api, django_capture_on_commit_callbacks
):
    _, api = graph_api
    Case.objects.filter(pk=whatsapp_case.pk).update(last_customer_message_at=timezone.now() - timedelta(days=3))
    client.force_login(whatsapp_case.assignee.user)

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            f"/api/v1/cases/{whatsapp_case.pk}/template/",
            {"name": "order_update", "language": "en_US", "parameters": ["Sheena", "#4471"]},
            content_type="application/json",
        )

    assert answer.status_code == 201, answer.content
    assert answer.json()["text"] == "Template order_update (en_US): Sheena | #4471"
    message = Message.objects.get(direction="out")
    assert message.delivery_status == "sent" and message.provider_message_id == "wamid.OUT1"
    [request] = api.requests
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "#4471"}]}
            ],
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Order Update!", "language": "en_US"},
        {"name": "order_update", "language": "english"},
        {"name": "order_update", "language": "en", "parameters": [" "]},
        {"language": "en"},
    ],
)
def test_bad_template_is_refused_with_a_400_and_nothing_sent(client, whatsapp_case, graph_api, body):
    _, api = graph_api
    client.force_login(whatsapp_case.assignee.user)
    answer = client.post(f"/api/v1/cases/{whatsapp_case.pk}/template/", body, content_type="application/json")
    assert answer.status_code == 400
    assert Message.objects.filter(direction="out").count() == 0
    assert api.requests == []


def test_templates_are_for_whatsapp_cases_only(client, send_meta, graph_api, agent_for_all):
    base, _ = graph_api
    channel = meta_channel("page", "messenger", queue=factories.queue("M", auto_accept=True), api_base=base)
    send_meta(channel, page_body(messaging("1254459154682919", message={"mid": "m_1", "text": "hi"})))
    client.force_login(agent_for_all.user)
    case = Case.objects.get()
    answer = client.post(
        f"/api/v1/cases/{case.pk}/template/", {"name": "x", "language": "en"}, content_type="application/json"
    )
    assert answer.status_code == 400
    assert "WhatsApp" in answer.json()["detail"]
