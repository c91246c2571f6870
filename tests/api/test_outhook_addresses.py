"""Outbound webhooks go to public addresses only: checked when subscribing
(a clear 400) and again at each delivery, connecting to the address that
was checked (DNS rebinding is refused), unless the setting allows private
addresses (embedded mode and these tests' loopback receivers)."""

from __future__ import annotations

import socket

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Role
from outhooks import addresses, services
from outhooks.models import Delivery, Subscription
from tests import factories
from tests.api.test_outhooks import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTHOOKS_ALLOW_PRIVATE": False}


def _admin() -> Client:
    token = Token.objects.create(user=factories.user("root", role=Role.ADMIN)).key
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def _resolving(monkeypatch, answers: list[str]) -> None:
    """getaddrinfo answers each call with the next address (the last one repeats)."""
    calls = iter(answers)
    last = [answers[-1]]

    def fake(host, port, *args, **kwargs):
        address = next(calls, last[0])
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_subscribing_a_private_address_is_refused_with_a_reason(strict, url):
    response = _admin().post(
        "/api/v1/webhook-subscriptions/", {"url": url, "events": ["case.created"]}, "application/json"
    )
    assert response.status_code == 400
    assert "webhooks are delivered to public addresses only" in response.json()["url"][0]
    assert not Subscription.objects.exists()


def test_a_name_that_resolves_privately_is_refused(strict, monkeypatch):
    _resolving(monkeypatch, ["10.0.0.7"])
    response = _admin().post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/x", "events": ["case.created"]},
        "application/json",
    )
    assert response.status_code == 400
    assert response.json()["url"] == [
        "hooks.example.com resolves to 10.0.0.7, a private, loopback or link-local address; "
        "webhooks are delivered to public addresses only"
    ]


def test_a_public_address_is_accepted(strict, monkeypatch):
    _resolving(monkeypatch, ["93.184.215.14"])
    response = _admin().post(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://hooks.example.com/x", "events": ["case.created"]},
        "application/json",
    )
    assert response.status_code == 201, response.content


def test_dns_rebinding_after_subscribing_is_refused_at_delivery(strict, monkeypatch):
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        # Public when subscribing, the receiver on loopback at delivery time.
        _resolving(monkeypatch, ["93.184.215.14", "127.0.0.1"])
        made = _admin().post(
            "/api/v1/webhook-subscriptions/",
            {"url": f"http://rebind.example.com:{port}/hook", "events": ["case.created"]},
            "application/json",
        )
        assert made.status_code == 201, made.content
        now = timezone.now()
        (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=now)
        services.deliver(delivery_id=delivery.pk, now=now)
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1
        assert "resolves to 127.0.0.1" in delivery.error
        assert receiver.requests == []  # nothing reached the loopback receiver


def test_the_same_delivery_reaches_loopback_when_allowed(monkeypatch):
    with Receiver() as receiver:
        _resolving(monkeypatch, ["127.0.0.1"])
        url = f"http://rebind.example.com:{receiver.server.server_address[1]}/hook"
        Subscription.objects.create(url=url, events=["case.created"])
        now = timezone.now()
        (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=now)
        services.deliver(delivery_id=delivery.pk, now=now)
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.DELIVERED and len(receiver.requests) == 1
        assert receiver.requests[0]["headers"]["Host"] == f"rebind.example.com:{receiver.server.server_address[1]}"


def test_the_setting_allows_loopback_receivers(settings):
    assert settings.SWITCHBOARD["OUTHOOKS_ALLOW_PRIVATE"] is True  # the test settings' default
    assert addresses.url_refusal("http://127.0.0.1:9/hook") is None
    assert addresses.url_refusal("ftp://example.com/") == "an http:// or https:// URL with a host"


def test_the_admin_form_refuses_a_private_address(strict):
    from outhooks.admin import SubscriptionForm

    form = SubscriptionForm(data={"url": "http://127.0.0.1/x", "events": '["case.created"]', "secret": "s" * 20})
    assert not form.is_valid()
    assert "public addresses only" in form.errors["url"][0]
