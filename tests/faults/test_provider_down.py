"""A provider's API down or slow (Twilio's Messages API played on loopback):
an agent's reply is tried again with backoff by the worker and the periodic
scan, with the same idempotency key each time; when the tries are used up it
is failed with the provider's error, shown on the message and escalated —
never dropped silently."""

from __future__ import annotations

import threading
import time
import urllib.parse

import pytest

from tests.connectors.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, inbound_sms, twilio_signature
from tests.faults.stack import wait_until
from tests.loopback import json_api

pytestmark = pytest.mark.postgres

RETRIES = {"SWITCHBOARD_OUTBOUND_RETRY_BASE_SECONDS": "1", "SWITCHBOARD_OUTBOUND_MAX_ATTEMPTS": "3"}


class Provider:
    """Answers the n-th send with ``script[n]``: an HTTP status, or "hang"
    (longer than the sender's 10 s timeout, then hang up)."""

    def __init__(self, script: list[int | str]) -> None:
        self.script = script
        self.tries: list[tuple[float, str]] = []  # (when, idempotency key)
        self.lock = threading.Lock()

    def __call__(self, path: str, headers: dict, body: bytes) -> tuple[int, dict | None]:
        with self.lock:
            self.tries.append((time.monotonic(), headers.get("I-Twilio-Idempotency-Token", "")))
            answer = self.script[min(len(self.tries), len(self.script)) - 1]
        if answer == "hang":
            time.sleep(11)
            return 500, None
        if answer >= 300:
            return answer, {"code": 20500, "message": "Service unavailable", "status": answer}
        return answer, {"sid": "SM" + "f" * 32, "status": "queued"}


def _reply_on_sms(stack, api_base: str) -> int:
    """A customer's SMS (a signed Twilio webhook) opens a case; its agent replies."""
    stack.seed()
    stack.django("tests.faults.seed:twilio_channel", api_base=api_base, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID)
    stack.web()
    stack.worker("worker", **RETRIES)
    stack.beat()
    params = list(inbound_sms().items())
    signature = twilio_signature(AUTH_TOKEN, f"http://127.0.0.1:{stack.port}/hooks/sms/", params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    status, answer = stack.request("POST", "/hooks/sms/", urllib.parse.urlencode(params).encode(), headers)
    assert status == 202, answer
    wait_until(lambda: stack.count("SELECT count(*) FROM routing_offer") == 1, timeout=30, what="no offer", stack=stack)
    case_id = stack.sql("SELECT id FROM cases_case")[0][0]
    return stack.django("tests.faults.seed:reply", case_id=case_id, text="Your parcel left today.")["message_id"]


def _settled(stack, message_id: int) -> bool:
    return stack.sql("SELECT delivery_status FROM cases_message WHERE id = %s", message_id)[0][0] != "queued"


def test_provider_down_fails_the_reply_after_backoff_visibly(fault_stack):
    provider = Provider([503])
    with json_api(provider) as api_base:
        message_id = _reply_on_sms(fault_stack, api_base)
        wait_until(lambda: _settled(fault_stack, message_id), timeout=40, what="the reply never settled")

    seen = fault_stack.django("tests.faults.seed:delivery", message_id=message_id)
    assert seen["status"] == "failed"
    assert seen["error"].startswith("gave up after 3 tries: Twilio 503")
    assert {"kind": "outbound_failed", "detail": f"Reply {message_id} was not delivered: {seen['error']}"[:300]} in (
        seen["escalations"]
    )
    assert len(provider.tries) == 3
    assert {key for _, key in provider.tries} == {f"switchboard-message-{message_id}"}
    (first, _), (second, _), (third, _) = provider.tries
    assert second - first >= 1 and third - second >= 3  # 1 s, then 3 s: backoff, not a hammering
    assert fault_stack.sql("SELECT attempts, next_try_at FROM connectors_deliveryattempt") == [(3, None)]


def test_provider_slow_then_back_delivers_once(fault_stack):
    provider = Provider(["hang", 503, 201])
    with json_api(provider) as api_base:
        message_id = _reply_on_sms(fault_stack, api_base)
        wait_until(lambda: _settled(fault_stack, message_id), timeout=50, what="the reply never settled")

    seen = fault_stack.django("tests.faults.seed:delivery", message_id=message_id)
    assert seen["status"] == "sent"
    assert seen["provider_message_id"] == "SM" + "f" * 32
    assert seen["escalations"] == []
    assert len(provider.tries) == 3
    assert {key for _, key in provider.tries} == {f"switchboard-message-{message_id}"}
