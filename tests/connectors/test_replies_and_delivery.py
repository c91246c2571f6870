"""Replies leave on the case's channel through its provider, and the
provider's delivery reports move a reply's status forward, never back."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.models import CaseStatus, Message
from connectors.models import InboundEvent
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigned_case(deliver):
    """A case the customer opened on the "web" channel, assigned to Ana at once."""
    queue = factories.queue("General", auto_accept=True)
    channel = factories.channel("web", default_queue=queue)
    agent = factories.agent("ana")
    deliver(channel, factories.payload(id="in-1", thread="order-77"))
    case = Message.objects.get(provider_message_id="in-1").case
    assert case.status == CaseStatus.ASSIGNED and case.assignee_id == agent.pk
    return case


@pytest.fixture
def reply(assigned_case, django_capture_on_commit_callbacks):
    """Ana's reply, sent through the provider (no reply_url: kept in Switchboard)."""
    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(
            case_id=assigned_case.pk, agent=assigned_case.assignee, text="On its way!", now=timezone.now()
        )
    message.refresh_from_db()
    return message


def _report(message_id: str, status: str, **fields) -> dict:
    body = {"id": f"evt-{message_id}-{status}", "type": "delivery_status", "message_id": message_id, "status": status}
    return body | fields


def test_reply_is_sent_through_the_provider_with_its_id(reply):
    assert reply.direction == Message.Direction.OUTBOUND
    assert reply.delivery_status == Message.Delivery.SENT
    assert reply.provider_message_id == f"sb-{reply.pk}"


def test_delivery_report_moves_the_reply_forward(deliver, reply):
    response = deliver(reply.channel, _report(reply.provider_message_id, "delivered"))

    assert response.status_code == 202
    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.DELIVERED
    event = InboundEvent.objects.get(dedupe_key=f"evt-{reply.provider_message_id}-delivered")
    assert event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED)
    assert event.error == ""


def test_late_reports_never_move_the_reply_backwards(deliver, reply):
    for status in ("read", "sent", "delivered"):
        assert deliver(reply.channel, _report(reply.provider_message_id, status)).status_code == 202

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.READ


def test_failed_report_is_recorded_with_its_error(deliver, reply):
    deliver(reply.channel, _report(reply.provider_message_id, "delivered"))

    deliver(reply.channel, _report(reply.provider_message_id, "failed", error="handset unreachable"))

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.FAILED
    assert reply.delivery_error == "handset unreachable"


def test_report_on_another_channel_does_not_touch_the_reply(deliver, reply):
    other = factories.channel("other")

    deliver(other, _report(reply.provider_message_id, "read"))

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.SENT


def test_report_for_an_unknown_message_changes_nothing(deliver, reply):
    response = deliver(reply.channel, _report("sb-does-not-exist", "read"))

    assert response.status_code == 202
    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.SENT
    event = InboundEvent.objects.get(dedupe_key="evt-sb-does-not-exist-read")
    assert event.status != InboundEvent.Status.FAILED


def test_report_never_changes_a_customer_message(deliver, assigned_case):
    inbound = assigned_case.messages.get()

    deliver(assigned_case.channel, _report(inbound.provider_message_id, "read"))

    inbound.refresh_from_db()
    assert inbound.delivery_status == Message.Delivery.RECEIVED


def test_redelivered_report_is_applied_once(deliver, reply):
    report = _report(reply.provider_message_id, "delivered")

    assert deliver(reply.channel, report).status_code == 202
    assert deliver(reply.channel, report).status_code == 200

    assert InboundEvent.objects.filter(dedupe_key=report["id"]).count() == 1


def test_reply_to_a_reply_url_that_is_not_http_is_recorded_failed(assigned_case, django_capture_on_commit_callbacks):
    channel = assigned_case.channel
    channel.config = {"reply_url": "file:///etc/passwd"}
    channel.save()

    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(
            case_id=assigned_case.pk, agent=assigned_case.assignee, text="Hello", now=timezone.now()
        )

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "http" in message.delivery_error


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def reply_server():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/replies", _Receiver.received
    server.shutdown()
    server.server_close()


def test_reply_is_posted_signed_to_the_channels_reply_url(
    assigned_case, reply_server, django_capture_on_commit_callbacks
):
    url, received = reply_server
    channel = assigned_case.channel
    channel.config = {"reply_url": url}
    channel.save()

    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(
            case_id=assigned_case.pk, agent=assigned_case.assignee, text="Hello from Ana", now=timezone.now()
        )

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    assert message.provider_message_id == f"sb-{message.pk}"
    [(headers, body)] = received
    assert headers[SIGNATURE_HEADER] == sign(channel.secret, body)
    sent = json.loads(body)
    assert sent == {
        "id": f"sb-{message.pk}",
        "case_id": assigned_case.pk,
        "thread": "order-77",
        "text": "Hello from Ana",
        "agent": "Ana",
    }


def test_reply_to_an_unreachable_reply_url_is_recorded_failed(assigned_case, django_capture_on_commit_callbacks):
    channel = assigned_case.channel
    channel.config = {"reply_url": "http://127.0.0.1:9/nothing-listens-here"}
    channel.save()

    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(
            case_id=assigned_case.pk, agent=assigned_case.assignee, text="Hello", now=timezone.now()
        )

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_error
