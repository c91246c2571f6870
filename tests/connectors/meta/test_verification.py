"""Meta's GET verification handshake and the X-Hub-Signature-256 on every POST."""

from __future__ import annotations

import json

import pytest

from connectors.models import InboundEvent
from tests.connectors.meta.conftest import VERIFY_TOKEN, meta_channel, post, wa_message, whatsapp_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return meta_channel("wa", "whatsapp")


def test_handshake_answers_the_challenge_as_plain_text(client, channel):
    response = client.get(
        f"/hooks/{channel.key}/",
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "not-the-token", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ],
)
def test_handshake_with_a_wrong_or_missing_part_is_refused(client, channel, params):
    response = client.get(f"/hooks/{channel.key}/", params)
    assert response.status_code == 403
    assert b"1158201444" not in response.content
    assert InboundEvent.objects.count() == 0


def test_handshake_is_refused_when_the_channel_has_no_verify_token(client):
    channel = meta_channel("wa2", "whatsapp", verify_token="")
    response = client.get(
        f"/hooks/{channel.key}/", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "7"}
    )
    assert response.status_code == 403


def test_signed_call_is_accepted_with_the_200_meta_expects(client, channel):
    response = post(client, channel, whatsapp_body(wa_message("wamid.A1")))
    assert response.status_code == 200  # Meta delivers again on anything else, 202 included
    assert response.json()["status"] == "accepted"
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
        "garbage",
    ],
)
def test_wrong_or_missing_signature_is_refused_and_nothing_is_stored(client, channel, signature):
    response = post(client, channel, whatsapp_body(wa_message("wamid.A1")), signature=signature)
    assert response.status_code == 403
    assert response.json()["error"] == "bad_signature"
    assert InboundEvent.objects.count() == 0


def test_signature_of_another_body_is_refused(client, channel):
    from connectors.providers.meta import sign
    from tests.connectors.meta.conftest import APP_SECRET

    other = sign(APP_SECRET, json.dumps(whatsapp_body(wa_message("wamid.OTHER"))).encode())
    response = post(client, channel, whatsapp_body(wa_message("wamid.A1")), signature=other)
    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_signed_body_of_an_unknown_object_is_kept_failed_with_a_400(client, channel):
    response = post(client, channel, {"object": "user", "entry": []})
    assert response.status_code == 400
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert "object" in event.error
