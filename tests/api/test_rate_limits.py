"""Rate limits: API writes per user, webhooks per channel and address; over
the limit a 429 with Retry-After, and nothing changes."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient

from agents.models import Role
from config.ratelimit import Rate, parse_rate, retry_after
from connectors.models import InboundEvent
from sla.models import BusinessCalendar
from tests import factories

pytestmark = pytest.mark.django_db


def _api_rate(rate: str):
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"write": rate}})


def test_api_writes_over_the_rate_get_429_and_change_nothing():
    admin = factories.user("root", role=Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin)
    with _api_rate("2/minute"):
        answers = [client.post("/api/v1/sla/calendars/", {"name": f"C{i}"}, format="json") for i in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert 1 <= int(answers[2]["Retry-After"]) <= 60
        assert BusinessCalendar.objects.count() == 2
        # Reads are not limited, and another user has a count of their own.
        assert client.get("/api/v1/sla/calendars/").status_code == 200
        other = APIClient()
        other.force_authenticate(factories.user("root2", role=Role.ADMIN))
        assert other.post("/api/v1/sla/calendars/", {"name": "Other"}, format="json").status_code == 201


def _hook_rate(rate: str):
    return override_settings(SWITCHBOARD={**settings.SWITCHBOARD, "WEBHOOK_RATE": rate})


def test_webhooks_over_the_rate_get_429_with_retry_after_and_nothing_is_stored(client):
    channel, other = factories.channel("shop"), factories.channel("shop2")
    with _hook_rate("2/minute"):
        codes = [factories.post_webhook(client, channel, factories.payload()).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        limited = factories.post_webhook(client, channel, factories.payload())
        assert limited.status_code == 429
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert limited.json()["error"] == "rate_limited"
        assert InboundEvent.objects.filter(channel=channel).count() == 2
        # Counted per channel and per client address.
        assert factories.post_webhook(client, other, factories.payload()).status_code == 202
        elsewhere = factories.post_webhook(client, channel, factories.payload(), REMOTE_ADDR="10.0.0.9")
        assert elsewhere.status_code == 202


def test_webhook_limit_can_be_turned_off(client):
    channel = factories.channel("shop")
    with _hook_rate("0"):
        codes = {factories.post_webhook(client, channel, factories.payload()).status_code for _ in range(5)}
    assert codes == {202}


def test_a_new_window_starts_a_new_count():
    rate = Rate(requests=1, seconds=60)
    assert retry_after(key="k", rate=rate, now=120.0) is None
    assert retry_after(key="k", rate=rate, now=150.0) == 30
    assert retry_after(key="k", rate=rate, now=180.0) is None


@pytest.mark.parametrize("text", ["ten/minute", "5/fortnight", "-1/second", "5"])
def test_a_bad_rate_is_a_clear_configuration_error(text):
    with pytest.raises(ImproperlyConfigured, match="rate is"):
        parse_rate(text)


def test_rates_parse():
    assert parse_rate("600/minute") == Rate(600, 60)
    assert parse_rate("") is None


@pytest.mark.django_db(transaction=True)
async def test_webhook_limit_holds_under_asgi_too(async_client):
    """The middleware's async path (the webhook view is async under ASGI)."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    from connectors.providers.generic_json import SIGNATURE_HEADER, sign

    channel = await sync_to_async(factories.channel)("shop")
    raw = json.dumps(factories.payload()).encode()
    headers = {SIGNATURE_HEADER: sign(channel.secret, raw)}
    url = f"/hooks/{channel.key}/"
    try:
        with _hook_rate("1/minute"):
            first = await async_client.post(url, raw, content_type="application/json", headers=headers)
            second = await async_client.post(url, raw, content_type="application/json", headers=headers)
    finally:  # the connection opened on sync_to_async's thread
        await sync_to_async(connections.close_all)()
    assert (first.status_code, second.status_code) == (202, 429)
    assert second["Retry-After"]
