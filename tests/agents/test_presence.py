"""Presence and status: an agent is offered work while a live session keeps
it present (within the grace period) and its status enables the channel;
coming online or into a routable status pulls waiting work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents import services
from agents.events import AgentChanged
from agents.models import Agent
from cases.models import Case, CaseStatus
from config.api import Invalid
from routing.events import OfferCreated
from routing.models import Offer
from tests import factories
from tests.events import capture_events, like

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return factories.channel("web", default_queue=factories.queue("General"))


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def _deliver(channel, body):
        with django_capture_on_commit_callbacks(execute=True):
            response = factories.post_webhook(client, channel, body)
        assert response.status_code == 202, response.content
        return Case.objects.get(messages__provider_message_id=body["id"])

    return _deliver


def test_touch_makes_an_absent_agent_present_for_the_grace_period(settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "PRESENCE_GRACE_SECONDS": 90}
    agent = factories.agent("ana", present=False)
    now = timezone.now()

    newly = services.touch_presence(agent_id=agent.pk, now=now)

    assert newly is True
    agent.refresh_from_db()
    assert agent.present_until == now + timedelta(seconds=90)
    assert agent.is_present(now + timedelta(seconds=89))
    assert not agent.is_present(now + timedelta(seconds=90))


def test_touch_while_present_extends_and_says_not_new():
    agent = factories.agent("ana", present=False)
    now = timezone.now()
    services.touch_presence(agent_id=agent.pk, now=now)

    later = now + timedelta(seconds=60)
    newly = services.touch_presence(agent_id=agent.pk, now=later)

    assert newly is False
    agent.refresh_from_db()
    assert agent.present_until == later + timedelta(seconds=90)


def test_touch_after_the_grace_period_is_new_presence_again():
    agent = factories.agent("ana", present=False)
    now = timezone.now()
    services.touch_presence(agent_id=agent.pk, now=now)

    assert services.touch_presence(agent_id=agent.pk, now=now + timedelta(seconds=91)) is True


def test_agent_coming_online_pulls_waiting_work(deliver, channel, django_capture_on_commit_callbacks):
    agent = factories.agent("ana", present=False)
    case = deliver(channel, factories.payload(id="m-1"))
    assert case.status == CaseStatus.QUEUED
    assert Offer.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.touch_presence(agent_id=agent.pk, now=timezone.now())

    offer = Offer.objects.get()
    assert (offer.agent_id, offer.case_id) == (agent.pk, case.pk)
    case.refresh_from_db()
    assert case.status == CaseStatus.OFFERED


def test_ended_presence_gets_no_new_offers(deliver, channel, django_capture_on_commit_callbacks):
    agent = factories.agent("ana")
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        services.end_presence(agent_id=agent.pk, now=now)
    case = deliver(channel, factories.payload(id="m-1"))

    agent.refresh_from_db()
    assert agent.present_until == now
    assert not agent.is_present(now)
    assert Offer.objects.count() == 0
    assert case.status == CaseStatus.QUEUED


def test_ended_presence_keeps_the_work_in_hand(deliver, django_capture_on_commit_callbacks):
    channel = factories.channel("web", default_queue=factories.queue("Auto", auto_accept=True))
    agent = factories.agent("ana")
    case = deliver(channel, factories.payload(id="m-1"))
    assert case.assignee_id == agent.pk

    services.end_presence(agent_id=agent.pk, now=timezone.now())

    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    assert case.assignee_id == agent.pk


def test_set_status_with_an_unknown_id_is_refused_and_changes_nothing():
    available = factories.status("Available")
    agent = factories.agent("ana", presence=available)
    since = agent.status_since

    with pytest.raises(Invalid, match="no presence status 999999"):
        services.set_status(agent_id=agent.pk, status_id=999999, now=timezone.now())

    agent.refresh_from_db()
    assert agent.status_id == available.pk
    assert agent.status_since == since


def test_set_status_records_the_status_and_since_when():
    agent = factories.agent("ana")
    lunch = factories.status("Lunch", kinds=[])
    now = timezone.now()

    services.set_status(agent_id=agent.pk, status_id=lunch.pk, now=now)
    services.set_status(agent_id=agent.pk, status_id=lunch.pk, now=now + timedelta(minutes=5))

    agent.refresh_from_db()
    assert agent.status_id == lunch.pk
    assert agent.status_since == now  # unchanged by setting the same status again


def test_not_routable_status_gets_no_offers(deliver, channel):
    factories.agent("ana", presence=factories.status("Lunch", kinds=[]))

    case = deliver(channel, factories.payload(id="m-1"))

    assert Offer.objects.count() == 0
    assert case.status == CaseStatus.QUEUED


def test_status_that_does_not_enable_the_channel_gets_no_offers(deliver, channel):
    factories.agent("ana", presence=factories.status("Chat only", kinds=["web_chat"]))

    case = deliver(channel, factories.payload(id="m-1"))  # an "api" channel

    assert Offer.objects.count() == 0
    assert case.status == CaseStatus.QUEUED


def test_switching_to_a_routable_status_pulls_waiting_work(deliver, channel, django_capture_on_commit_callbacks):
    agent = factories.agent("ana", presence=factories.status("Lunch", kinds=[]))
    case = deliver(channel, factories.payload(id="m-1"))
    available = factories.status("Available", kinds=["api", "web_chat"])

    # The change goes out on commit; routing, listening, offers the waiting case.
    expected = [AgentChanged(agent_id=agent.pk), like(OfferCreated, case_id=case.pk, agent_id=agent.pk)]
    with (
        capture_events(AgentChanged, OfferCreated, expected=expected),
        django_capture_on_commit_callbacks(execute=True),
    ):
        returned = services.set_status(agent_id=agent.pk, status_id=available.pk, now=timezone.now())

    assert returned.status_id == available.pk
    assert Agent.objects.get(pk=agent.pk).status_id == available.pk
    offer = Offer.objects.get()
    assert (offer.agent_id, offer.case_id) == (agent.pk, case.pk)
