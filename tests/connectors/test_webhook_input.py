"""Bad input to ``POST /hooks/<channel-key>/`` gets a clear 4xx and changes
nothing; a bad signature is refused and stores nothing. A body the provider
would not send is kept as a failed event with its error, for an admin to see."""

from __future__ import annotations

import json

import pytest
from channels.testing import HttpCommunicator

from cases.models import Case, Customer, Identity, Message
from config.asgi import application
from connectors.models import Channel, InboundEvent
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from tests import factories

pytestmark = pytest.mark.django_db

SIGNATURE_META = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")


def _nothing_stored() -> None:
    assert InboundEvent.objects.count() == 0
    _no_case_created()


def _no_case_created() -> None:
    assert Customer.objects.count() == 0
    assert Identity.objects.count() == 0
    assert Case.objects.count() == 0
    assert Message.objects.count() == 0


def test_unknown_channel_key_is_404_and_stores_nothing(client, deliver):
    channel = factories.channel("web")
    raw, headers = factories.signed(channel, factories.payload())

    response = client.post("/hooks/no-such-channel/", data=raw, content_type="application/json", **headers)

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_channel"
    assert "no-such-channel" in response.json()["detail"]
    _nothing_stored()


def test_inactive_channel_is_404_and_stores_nothing(deliver):
    channel = factories.channel("web", is_active=False)

    response = deliver(channel, factories.payload())

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_channel"
    _nothing_stored()


def test_a_channel_deactivated_or_given_a_new_secret_here_counts_at_once(deliver, django_assert_num_queries):
    """Webhooks keep their channel for a few seconds; a save in this process
    (the admin, the channels API) is seen by the next webhook."""
    from connectors.webhooks import channels

    channel = factories.channel("web")
    assert deliver(channel, factories.payload()).status_code == 202
    with django_assert_num_queries(0):
        assert channels.get("web").pk == channel.pk  # kept: no query

    old_secret = channel.secret
    channel.secret = "a-new-secret-for-this-channel"
    channel.save()
    stale = Channel(pk=channel.pk, key="web", secret=old_secret)
    assert deliver(stale, factories.payload()).status_code == 403  # signed with the old secret
    assert deliver(channel, factories.payload()).status_code == 202

    channel.is_active = False
    channel.save()
    assert deliver(channel, factories.payload()).status_code == 404


def test_missing_signature_is_refused_and_stores_nothing(client, django_capture_on_commit_callbacks):
    channel = factories.channel("web")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/hooks/{channel.key}/", data=json.dumps(factories.payload()), content_type="application/json"
        )

    assert response.status_code == 403
    assert response.json()["error"] == "bad_signature"
    assert SIGNATURE_HEADER in response.json()["detail"]
    _nothing_stored()


def test_signature_made_with_another_secret_is_refused_and_stores_nothing(client, django_capture_on_commit_callbacks):
    channel = factories.channel("web")
    raw = json.dumps(factories.payload()).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/hooks/{channel.key}/",
            data=raw,
            content_type="application/json",
            **{SIGNATURE_META: sign("not-the-channel-secret", raw)},
        )

    assert response.status_code == 403
    assert response.json()["error"] == "bad_signature"
    _nothing_stored()


def test_body_changed_after_signing_is_refused_and_stores_nothing(client, django_capture_on_commit_callbacks):
    channel = factories.channel("web")
    raw, headers = factories.signed(channel, factories.payload(text="Refund 10 EUR"))
    tampered = raw.replace(b"10 EUR", b"99 EUR")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/hooks/{channel.key}/", data=tampered, content_type="application/json", **headers)

    assert response.status_code == 403
    _nothing_stored()


def test_signature_of_another_channel_is_refused(client, django_capture_on_commit_callbacks):
    ours = factories.channel("web")
    theirs = factories.channel("other")
    raw, headers = factories.signed(theirs, factories.payload())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/hooks/{ours.key}/", data=raw, content_type="application/json", **headers)

    assert response.status_code == 403
    _nothing_stored()


def _payload_without(*keys: str, **changes) -> dict:
    body = factories.payload(**changes)
    for key in keys:
        body.pop(key)
    return body


BAD_BODIES = [
    pytest.param(b"this is not json", "not JSON", id="not-json"),
    pytest.param(b"\xff\xfe\x00garbage", "not JSON", id="not-utf8"),
    pytest.param(b"[1, 2, 3]", "JSON object", id="json-array"),
    pytest.param(b'"just a string"', "JSON object", id="json-string"),
    pytest.param(_payload_without("id"), "'id'", id="missing-id"),
    pytest.param(factories.payload(id="   "), "'id'", id="blank-id"),
    pytest.param(factories.payload(id=1234), "'id' must be a string", id="numeric-id"),
    pytest.param(_payload_without("from"), "'from'", id="missing-from"),
    pytest.param(factories.payload(**{"from": "maria@example.com"}), "'from'", id="from-not-an-object"),
    pytest.param(factories.payload(**{"from": {"kind": "email"}}), "'address'", id="missing-from-address"),
    pytest.param(
        factories.payload(**{"from": {"kind": "carrier-pigeon", "address": "coo"}}), "from.kind", id="bad-from-kind"
    ),
    pytest.param(_payload_without("text"), "'text' or 'html'", id="missing-text-and-html"),
    pytest.param(factories.payload(text="   ", html=""), "'text' or 'html'", id="blank-text-and-html"),
    pytest.param(factories.payload(text=["a", "list"]), "'text' must be a string", id="text-not-a-string"),
    pytest.param(factories.payload(text="x" * 100_001), "'text' is longer than", id="text-too-long"),
    pytest.param(factories.payload(sent_at="yesterday"), "sent_at", id="sent-at-not-a-date"),
    pytest.param(factories.payload(sent_at="2026-11-23T10:00:00"), "sent_at", id="sent-at-without-zone"),
    pytest.param(factories.payload(sent_at=1700000000), "sent_at", id="sent-at-a-number"),
    pytest.param(factories.payload(attachments="a.png"), "attachments", id="attachments-not-a-list"),
    pytest.param(factories.payload(attachments=["a.png"]), "attachments", id="attachments-not-objects"),
    pytest.param(factories.payload(attachments=[{"size": 10}]), "'name'", id="attachment-without-name"),
    pytest.param(
        factories.payload(attachments=[{"name": "a.png", "size": -5}]), "attachments[].size", id="negative-size"
    ),
    pytest.param(
        factories.payload(attachments=[{"name": "a.png", "size": "big"}]), "attachments[].size", id="size-not-int"
    ),
    pytest.param(factories.payload(type="reaction"), "'type'", id="unknown-type"),
    pytest.param({"id": "evt-1", "type": "delivery_status", "status": "read"}, "'message_id'", id="status-no-msg-id"),
    pytest.param(
        {"id": "evt-1", "type": "delivery_status", "message_id": "sb-1", "status": "exploded"},
        "'status'",
        id="unknown-delivery-status",
    ),
]


@pytest.mark.parametrize(("body", "named"), BAD_BODIES)
def test_bad_body_is_400_naming_the_problem_and_kept_as_failed_event(deliver, body, named):
    channel = factories.channel("web")

    response = deliver(channel, body)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["error"] == "invalid_payload"
    assert named in answer["detail"]
    event = InboundEvent.objects.get()
    assert answer["event_id"] == event.pk
    assert event.channel_id == channel.pk
    assert event.status == InboundEvent.Status.FAILED
    assert named in event.error
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert bytes(event.body) == raw
    _no_case_created()


# Inputs that used to escape the provider's checks as a 500 (see the report):
# a well-formed but impossible date, a status that is not a string, JSON
# nested deeper than the parser's recursion limit.
ESCAPING_BODIES = [
    pytest.param(factories.payload(sent_at="2026-02-30T10:00:00Z"), "sent_at", id="impossible-date"),
    pytest.param(
        {"id": "evt-1", "type": "delivery_status", "message_id": "sb-1", "status": ["read"]},
        "'status'",
        id="status-a-list",
    ),
    pytest.param(b'{"id": "x", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not JSON", id="nested-too-deep"),
    pytest.param(
        factories.payload(**{"from": {"kind": "external", "address": "ab"}}, type=["message"]),
        "'type'",
        id="type-a-list",
    ),
]


@pytest.mark.parametrize(("body", "named"), ESCAPING_BODIES)
def test_malformed_values_are_400_not_a_server_error(deliver, body, named):
    channel = factories.channel("web")

    response = deliver(channel, body)

    assert response.status_code == 400, response.content
    assert named in response.json()["detail"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED
    _no_case_created()


@pytest.mark.parametrize(
    ("sender", "named"),
    [
        pytest.param({"kind": "email", "address": "not-an-email"}, "not-an-email", id="email-without-at"),
        pytest.param({"kind": "phone", "address": "call me maybe"}, "call me maybe", id="phone-not-a-number"),
        pytest.param({"kind": "phone", "address": "+34 600"}, "+34 600", id="phone-too-short"),
    ],
)
def test_sender_address_that_is_not_one_of_its_kind_is_400(deliver, sender, named):
    channel = factories.channel("web")

    response = deliver(channel, factories.payload(**{"from": sender}))

    assert response.status_code == 400, response.content
    assert named in response.json()["detail"]
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert named in event.error
    _no_case_created()


def test_attachment_size_must_be_a_number_not_a_boolean(deliver):
    channel = factories.channel("web")

    response = deliver(channel, factories.payload(attachments=[{"name": "a.png", "size": True}]))

    assert response.status_code == 400
    assert "attachments[].size" in response.json()["detail"]
    _no_case_created()


def test_body_over_the_limit_is_413_and_stores_nothing(deliver, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "MAX_WEBHOOK_BYTES": 200}
    channel = factories.channel("web")
    body = factories.payload(text="x" * 300)

    response = deliver(channel, body)

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert "200 bytes" in response.json()["detail"]
    _nothing_stored()


def test_body_at_the_limit_is_accepted(deliver, settings):
    channel = factories.channel("web")
    raw = json.dumps(factories.payload(text="x" * 50)).encode()
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "MAX_WEBHOOK_BYTES": len(raw)}

    response = deliver(channel, raw)

    assert response.status_code == 202, response.content
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


@pytest.mark.django_db(transaction=True)
async def test_body_over_the_limit_without_content_length_is_413(settings):
    """A chunked request declares no length: the view counts what it reads."""
    from channels.db import database_sync_to_async

    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "MAX_WEBHOOK_BYTES": 200}
    channel = await database_sync_to_async(factories.channel)("web")
    raw = json.dumps(factories.payload(text="x" * 300)).encode()
    communicator = HttpCommunicator(
        application,
        "POST",
        f"/hooks/{channel.key}/",
        body=raw,
        headers=[
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (SIGNATURE_HEADER.lower().encode(), sign(channel.secret, raw).encode()),
        ],
    )

    response = await communicator.get_response(timeout=10)

    assert response["status"] == 413
    assert json.loads(response["body"])["error"] == "too_large"
    assert await database_sync_to_async(InboundEvent.objects.count)() == 0


def test_content_length_that_is_not_a_number_is_400(deliver):
    channel = factories.channel("web")

    response = deliver(channel, factories.payload(), CONTENT_LENGTH="lots")

    assert response.status_code == 400
    assert "Content-Length" in response.json()["detail"]
    _nothing_stored()


def test_get_is_405_and_stores_nothing(client):
    channel = factories.channel("web")

    response = client.get(f"/hooks/{channel.key}/")

    assert response.status_code == 405
    assert "POST" in response["Allow"]
    _nothing_stored()
