"""Lists that grow are cursor-paginated: ``{"next", "previous", "results"}``,
a page at a time, every row once, in a stable order, with their filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Role
from cases.models import Customer
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def _walk(client: Client, url: str) -> list[list[int]]:
    pages = []
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
    return pages


def test_customers_come_a_cursor_page_at_a_time_newest_first_with_a_tier_filter():
    made = [Customer.objects.create(display_name=f"C{i}", tier="vip" if i % 10 == 0 else "standard") for i in range(60)]
    root = _client(factories.user("root", role=Role.ADMIN))
    pages = _walk(root, "/api/v1/customers/")
    assert [len(p) for p in pages] == [50, 10]
    assert sum(pages, []) == sorted((c.pk for c in made), reverse=True)
    vip = _walk(root, "/api/v1/customers/?tier=vip")
    assert sum(vip, []) == sorted((c.pk for c in made if c.tier == "vip"), reverse=True)


def test_offers_come_a_cursor_page_at_a_time_newest_first():
    agent = factories.agent("ana")
    channel = factories.channel("shop")
    now = timezone.now()
    offers = []
    for i in range(55):
        case = factories.queued_case(channel)
        offers.append(
            Offer.objects.create(
                case=case,
                agent=agent,
                channel_kind=case.channel_kind,
                status="declined",
                created_at=now - timedelta(seconds=i),
                expires_at=now,
            )
        )
    pages = _walk(_client(agent.user), "/api/v1/offers/?status=declined")
    assert [len(p) for p in pages] == [50, 5]
    assert sum(pages, []) == [o.pk for o in offers]


def test_agents_come_a_cursor_page_at_a_time():
    made = [factories.agent(f"a{i}") for i in range(105)]
    pages = _walk(_client(factories.user("root", role=Role.ADMIN)), "/api/v1/agents/")
    assert [len(p) for p in pages] == [100, 5]
    assert sum(pages, []) == [a.pk for a in made]
