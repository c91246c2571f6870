"""An offer whose push never reached the page (channels-redis drops group
messages when a socket's buffer is full) shows within one heartbeat: the
heartbeat's answer lists the agent's pending offers and the page asks for a
snapshot when its own list differs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.test_agent_workspace import open_workspace

pytestmark = pytest.mark.browser


def world():
    agent = factories.agent("ana")
    channel = factories.channel("web", default_queue=factories.queue("General"))
    return agent, channel


def offer_without_push(agent, channel) -> int:
    """A pending offer written straight to the database: no event, no push."""
    from django.utils import timezone

    from cases.models import CaseStatus
    from routing.models import Offer

    case = factories.queued_case(channel)
    case.status = CaseStatus.OFFERED
    case.save(update_fields=["status"])
    now = timezone.now()
    offer = Offer.objects.create(
        case=case, agent=agent, channel_kind=case.channel_kind, created_at=now, expires_at=now + timedelta(minutes=10)
    )
    return offer.pk


def test_an_offer_whose_push_was_lost_shows_after_the_next_heartbeat(page: Page, asgi_server, db_thread):
    agent, channel = db_thread(world)
    page.clock.install()
    open_workspace(page, "ana")
    expect(page.locator("#offers .offer")).to_have_count(0)

    db_thread(offer_without_push, agent, channel)
    page.clock.run_for(5_000)
    expect(page.locator("#offers .offer")).to_have_count(0)  # no push came

    page.clock.run_for(25_000)  # one heartbeat later
    expect(page.locator("#offers .offer")).to_have_count(1)
