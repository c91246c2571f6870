"""Twilio test kit: a channel whose secret is the auth token, a signer that
signs exactly as Twilio does, and a local HTTP server on loopback that plays
Twilio's Messages API (records requests, answers like Twilio)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import urllib.parse

import pytest

from connectors.models import Channel
from tests import factories
from tests.loopback import json_api

AUTH_TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "a" * 32
_sids = itertools.count(1)


def message_sid() -> str:
    return f"SM{next(_sids):032x}"


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Written from Twilio's "Validating requests" page, independently of the
    code under test: URL, then each name+value sorted by name, HMAC-SHA1, base64."""
    data = url
    for name, value in sorted(params, key=lambda p: (p[0], p[1])):
        data += name + value
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()).decode()


def post_twilio(client, channel: Channel, params, *, signature: str | None = "auto", url: str | None = None):
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    body = urllib.parse.urlencode(pairs)
    headers = {}
    if signature == "auto":
        signed_url = url or f"http://testserver/hooks/{channel.key}/"
        headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(channel.secret, signed_url, pairs)
    elif signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(f"/hooks/{channel.key}/", data=body, content_type="application/x-www-form-urlencoded", **headers)


def inbound_sms(**fields) -> dict:
    sid = message_sid()
    params = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": "Hi, my order #77 has not arrived",
        "FromCountry": "US",
        "To": "+15005550006",
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "+14155550100",
        "ApiVersion": "2010-04-01",
    }
    params.update(fields)
    return params


def inbound_whatsapp(**fields) -> dict:
    sid = message_sid()
    params = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Ana García",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": "34600111222",
        "SmsStatus": "received",
        "Body": "Hola, ¿dónde está mi pedido?",
        "To": "whatsapp:+14155238886",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "whatsapp:+34600111222",
        "ApiVersion": "2010-04-01",
    }
    params.update(fields)
    return params


def status_callback(sid: str, status: str, **fields) -> dict:
    params = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": "+14155550100",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }
    params.update(fields)
    return params


@pytest.fixture
def twilio_api():
    """A loopback server answering like Twilio's Messages API. ``answers`` is a
    list of (status, json) used in turn (the last one repeats); every request
    is recorded in ``requests``."""

    class State:
        answers: list[tuple[int, dict]] = [(201, {})]
        requests: list[dict] = []

    state = State()

    def handle(path: str, headers: dict, raw: bytes) -> tuple[int, dict]:
        state.requests.append({"path": path, "headers": headers, "form": dict(urllib.parse.parse_qsl(raw.decode()))})
        index = min(len(state.requests) - 1, len(state.answers) - 1)
        status, payload = state.answers[index]
        if status == 201 and not payload:
            payload = {"sid": message_sid(), "status": "queued", "account_sid": ACCOUNT_SID}
        return status, payload

    with json_api(handle) as base:
        state.base = base
        yield state


@pytest.fixture
def sms_channel(db):
    queue = factories.queue("Messaging", auto_accept=True)
    return Channel.objects.create(
        key="twilio-sms",
        name="SMS",
        kind="sms",
        provider="twilio",
        secret=AUTH_TOKEN,
        config={"account_sid": ACCOUNT_SID},
        default_queue=queue,
    )


@pytest.fixture
def send(client, django_capture_on_commit_callbacks):
    """POST Twilio-signed form params and run the work scheduled at commit."""

    def _send(channel, params, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_twilio(client, channel, params, **kwargs)

    return _send
