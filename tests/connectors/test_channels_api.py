"""Channels are created in the admin and through ``POST /api/v1/channels/``
with an admin's token (DRF authtoken: ``manage.py drf_create_token``); each
has a key for its URL and its own secret, shown only to admins and never in
the list."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from agents.models import Role
from connectors.models import Channel
from tests import factories

pytestmark = pytest.mark.django_db


def token_client(user) -> Client:
    token = Token.objects.get_or_create(user=user)[0]
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture
def admin():
    return factories.user("root", role=Role.ADMIN)


def test_admin_creates_a_channel_with_a_token_made_by_drf_create_token(admin):
    out = io.StringIO()
    call_command("drf_create_token", "root", stdout=out)
    key = out.getvalue().split()[2]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    queue = factories.queue("Chat")

    response = client.post(
        "/api/v1/channels/",
        {
            "key": "shop-chat",
            "name": "Shop chat",
            "kind": "web_chat",
            "provider": "webchat",
            "default_queue": queue.pk,
            "config": {"allowed_origins": ["https://shop.example.com"]},
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    channel = Channel.objects.get(key="shop-chat")
    assert body["secret"] == channel.secret and len(channel.secret) >= 32
    assert channel.provider == "webchat" and channel.default_queue == queue
    assert channel.config == {"allowed_origins": ["https://shop.example.com"]}


def test_each_channel_has_its_own_secret_never_in_the_list(admin):
    client = token_client(admin)
    for key in ("one", "two"):
        response = client.post(
            "/api/v1/channels/",
            {"key": key, "name": key, "kind": "api", "provider": "generic_json"},
            content_type="application/json",
        )
        assert response.status_code == 201
    one, two = Channel.objects.get(key="one"), Channel.objects.get(key="two")
    assert one.secret != two.secret

    listed = client.get("/api/v1/channels/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {row["key"] for row in rows} == {"one", "two"}
    assert all("secret" not in row for row in rows)
    assert one.secret not in json.dumps(listed)

    detail = client.get(f"/api/v1/channels/{one.pk}/").json()
    assert detail["secret"] == one.secret

    rotated = client.post(f"/api/v1/channels/{one.pk}/rotate-secret/").json()
    one.refresh_from_db()
    assert rotated["secret"] == one.secret != detail["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "x", "name": "X", "kind": "api", "provider": "nope"}, "provider"),
        ({"key": "x", "name": "X", "kind": "pigeon", "provider": "generic_json"}, "kind"),
        ({"key": "has space", "name": "X", "kind": "api", "provider": "generic_json"}, "key"),
        ({"key": "x", "name": "X", "kind": "email", "provider": "webchat"}, "kind"),
        ({"key": "x", "name": "X", "kind": "api", "provider": "generic_json", "config": [1]}, "config"),
        ({"key": "x", "name": "X", "kind": "api", "provider": "generic_json", "secret": "short"}, "secret"),
        ({"name": "X", "kind": "api", "provider": "generic_json"}, "key"),
    ],
)
def test_bad_channel_is_refused_with_a_message_and_creates_nothing(admin, body, field):
    response = token_client(admin).post("/api/v1/channels/", body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()
    assert Channel.objects.count() == 0


def test_duplicate_key_is_refused(admin):
    factories.channel("web")
    response = token_client(admin).post(
        "/api/v1/channels/",
        {"key": "web", "name": "Web", "kind": "api", "provider": "generic_json"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "key" in response.json()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_only_admins_see_or_create_channels(role):
    factories.channel("web")
    client = token_client(factories.user("someone", role=role))

    assert client.get("/api/v1/channels/").status_code == 403
    response = client.post(
        "/api/v1/channels/",
        {"key": "x", "name": "X", "kind": "api", "provider": "generic_json"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Channel.objects.count() == 1


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/channels/").status_code == 401


def test_schema_describes_channels_handoffs_and_customers(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/channels/",
        "/api/v1/channels/{id}/",
        "/api/v1/channels/{id}/rotate-secret/",
        "/api/v1/handoffs/",
        "/api/v1/customers/{id}/history/",
        "/api/v1/customers/{id}/identities/",
        "/api/v1/customers/{id}/merge/",
        "/api/v1/customers/{id}/undo-merge/",
        "/api/v1/cases/{id}/typing/",
    ):
        assert path in paths, path
    handoff = paths["/api/v1/handoffs/"]["post"]
    assert "transcript" in json.dumps(handoff) or handoff["requestBody"]
