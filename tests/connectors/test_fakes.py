"""The providers' APIs played on loopback for embedded mode
(``connectors.fakes``): replies go out through the real provider modules and
are answered in each provider's shape; the fake Twilio posts signed status
callbacks that our Twilio hook accepts; ``[fail]`` and ``[down]`` give the
provider's refusal and outage; ``make run``'s demo channels use it."""

from __future__ import annotations

import threading
import time
import urllib.parse

import pytest
from django.core.management import call_command
from django.utils import timezone

from cases import services as case_services
from cases.models import CaseStatus, Message
from connectors import fakes
from connectors.models import Channel
from connectors.outbound import DeliveryAttempt
from tests import factories
from tests.connectors.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, inbound_sms, post_twilio
from tests.loopback import json_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    server, recorded = fakes.serve(port=0)
    recorded.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield recorded
    server.shutdown()


@pytest.fixture
def callbacks():
    """Where the fake Twilio posts status callbacks: recorded here."""
    seen: list[dict] = []
    arrived = threading.Event()

    def handle(path, headers, body):
        seen.append({"path": path, "headers": headers, "body": body})
        arrived.set()
        return 200, {}

    with json_api(handle) as base:
        yield {"url": f"{base}/hooks/twilio-sms/", "seen": seen, "arrived": arrived}


@pytest.fixture
def sms_case(client, django_capture_on_commit_callbacks, fake, callbacks):
    factories.agent("ana", capacity={"sms": 3})
    channel = Channel.objects.create(
        key="twilio-sms",
        name="SMS",
        kind="sms",
        provider="twilio",
        secret=AUTH_TOKEN,
        config={"account_sid": ACCOUNT_SID, "api_base": fake.base, "webhook_url": callbacks["url"]},
        default_queue=factories.queue("Messaging", auto_accept=True),
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, channel, inbound_sms(Body="Where is my parcel?"), url=callbacks["url"])
    case = Message.objects.get(direction="in").case
    assert case.status == CaseStatus.ASSIGNED
    return case


def _reply(case, capture, text):
    with capture(execute=True):
        message = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=timezone.now())
    message.refresh_from_db()
    return message


def test_a_twilio_reply_is_answered_like_twilio_and_its_statuses_come_back_signed(
    client, sms_case, fake, callbacks, django_capture_on_commit_callbacks
):
    message = _reply(sms_case, django_capture_on_commit_callbacks, "It ships today.")

    assert message.delivery_status == Message.Delivery.SENT
    assert message.provider_message_id.startswith("SM") and len(message.provider_message_id) == 34
    sent = [r for r in fake.requests if r["path"].endswith("/Messages.json")]
    assert urllib.parse.parse_qs(sent[-1]["body"])["Body"] == ["It ships today."]

    # Twilio posts "sent", then "delivered", to the StatusCallback we gave it.
    deadline = time.monotonic() + 10
    while len(callbacks["seen"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(callbacks["seen"]) == 2
    for posted in callbacks["seen"]:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/hooks/twilio-sms/",
                data=posted["body"],
                content_type="application/x-www-form-urlencoded",
                HTTP_X_TWILIO_SIGNATURE=posted["headers"]["X-Twilio-Signature"],
            )
        assert response.status_code in (200, 202), response.content  # the signature holds
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.DELIVERED


def test_fail_is_refused_like_twilio_and_down_is_retried(sms_case, django_capture_on_commit_callbacks):
    refused = _reply(sms_case, django_capture_on_commit_callbacks, "This one [fail]s.")
    assert refused.delivery_status == Message.Delivery.FAILED
    assert "21211" in refused.delivery_error

    later = _reply(sms_case, django_capture_on_commit_callbacks, "Twilio is [down].")
    assert later.delivery_status == Message.Delivery.QUEUED
    attempt = DeliveryAttempt.objects.get(message=later)
    assert attempt.attempts == 1 and attempt.next_try_at is not None  # retried later, with backoff
    assert "503" in attempt.last_error


def test_the_other_providers_answer_in_their_shapes(fake):
    status, body = fake.handle("POST", "/bot1:demo/sendMessage", {}, b'{"chat_id": 42, "text": "hi"}')
    assert status == 200 and body["ok"] is True and body["result"]["chat"]["id"] == 42
    status, body = fake.handle("POST", "/bot1:demo/sendMessage", {}, b'{"chat_id": 42, "text": "[fail]"}')
    assert (status, body["ok"], body["error_code"]) == (403, False, 403)

    wa = b'{"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {"body": "hi"}}'
    status, body = fake.handle("POST", "/v21.0/106540352242922/messages", {}, wa)
    assert status == 200 and body["messages"][0]["id"].startswith("wamid.")
    status, body = fake.handle("POST", "/v21.0/me/messages", {}, b'{"recipient": {"id": "77"}, "message": {}}')
    assert body["recipient_id"] == "77" and body["message_id"].startswith("m_")
    status, body = fake.handle("POST", "/v21.0/me/messages", {}, b'{"message": {"text": "[down]"}}')
    assert status == 503 and body["error"]["code"] == 2

    status, body = fake.handle("POST", "/2/tweets", {}, b'{"text": "thanks"}')
    assert status == 201 and body["data"]["text"] == "thanks"
    status, body = fake.handle("POST", "/nowhere", {}, b"")
    assert status == 404


def test_make_runs_demo_channels_reply_through_the_fake_providers():
    call_command("seed_demo", "--quiet", "--fake-providers-port", "8025", "--port", "8000")
    sms = Channel.objects.get(key="demo-sms")
    assert sms.provider == "twilio" and sms.config["api_base"] == "http://127.0.0.1:8025"
    assert sms.config["webhook_url"] == "http://127.0.0.1:8000/hooks/demo-sms/"
    assert Channel.objects.get(key="demo-telegram").config["api_base"] == "http://127.0.0.1:8025"
    call_command("seed_demo", "--quiet", "--fake-providers-port", "8025")  # idempotent
    assert Channel.objects.filter(key__startswith="demo-").count() == 2
