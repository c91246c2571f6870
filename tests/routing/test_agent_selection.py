"""Whom a case goes to: each queue's agent selection, continuity, both
routing directions (a case looks for an agent, an agent pulls cases) and
fair distribution."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.models import Agent
from cases.models import Case, CaseEvent, CaseStatus
from routing.batch import route_agent, route_case, route_waiting
from routing.models import Offer, RoutingSettings
from routing.offers import accept_offer
from tests import factories

pytestmark = pytest.mark.django_db


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


def _offered_case_ids() -> set[int]:
    return set(Offer.objects.filter(status=Offer.Status.PENDING).values_list("case_id", flat=True))


# --- Agent selection per queue ------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "winner"),
    [("most_available", "ana"), ("least_active", "ben"), ("longest_idle", "cleo")],
)
def test_each_queue_selects_agents_its_own_way(now, selection, winner):
    queue = factories.queue("Q", agent_selection=selection)
    chan = factories.channel("c", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5}, total=10)  # free 4, 1 open, idle 1 min
    ben = factories.agent("ben", capacity={"api": 2}, total=10)  # free 2, 0 open, idle 2 min
    cleo = factories.agent("cleo", capacity={"api": 4}, total=10)  # free 3, 1 open, idle 60 min
    factories.held_case(chan, ana)
    factories.held_case(chan, cleo)
    for agent, minutes in ((ana, 1), (ben, 2), (cleo, 60)):
        Agent.objects.filter(pk=agent.pk).update(idle_since=now - timedelta(minutes=minutes))
    case = factories.queued_case(chan)

    offer = route_case(case_id=case.pk, now=now)

    assert offer.agent.display_name.lower() == winner


# --- Continuity ---------------------------------------------------------------------------


@pytest.fixture
def continuity(now):
    queue = factories.queue("Support", continuity_minutes=30)
    chan = factories.channel("support", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5}, total=10)  # most available: wins without continuity
    ben = factories.agent("ben", capacity={"api": 2}, total=10)
    return chan, ana, ben


def test_a_returning_customer_goes_to_the_agent_who_served_them(continuity, now):
    chan, ana, ben = continuity
    maria = factories.customer()
    factories.held_case(
        chan, ben, customer_obj=maria, status=CaseStatus.RESOLVED, resolved_at=now - timedelta(minutes=10)
    )
    stranger = factories.queued_case(chan)
    returning = factories.queued_case(chan, customer_obj=maria)

    assert route_case(case_id=stranger.pk, now=now).agent == ana
    offer = route_case(case_id=returning.pk, now=now)

    assert offer.agent == ben
    event = returning.events.get(kind=CaseEvent.Kind.OFFERED)
    assert event.agent == ben and event.data["continuity"] is True
    assert "continuity" not in stranger.events.get(kind=CaseEvent.Kind.OFFERED).data


def test_continuity_does_not_apply_outside_the_window(continuity, now):
    chan, ana, ben = continuity
    maria = factories.customer()
    factories.held_case(
        chan, ben, customer_obj=maria, status=CaseStatus.RESOLVED, resolved_at=now - timedelta(minutes=40)
    )
    returning = factories.queued_case(chan, customer_obj=maria)

    offer = route_case(case_id=returning.pk, now=now)

    assert offer.agent == ana
    assert "continuity" not in returning.events.get(kind=CaseEvent.Kind.OFFERED).data


def test_continuity_does_not_apply_when_the_queue_has_it_off(now):
    chan = factories.channel("support", default_queue=factories.queue("Support"))
    ana = factories.agent("ana", capacity={"api": 5}, total=10)
    ben = factories.agent("ben", capacity={"api": 2}, total=10)
    maria = factories.customer()
    factories.held_case(
        chan, ben, customer_obj=maria, status=CaseStatus.RESOLVED, resolved_at=now - timedelta(minutes=1)
    )
    returning = factories.queued_case(chan, customer_obj=maria)

    assert route_case(case_id=returning.pk, now=now).agent == ana


def test_continuity_yields_when_the_agent_is_offline(continuity, now):
    chan, ana, ben = continuity
    maria = factories.customer()
    factories.held_case(
        chan, ben, customer_obj=maria, status=CaseStatus.RESOLVED, resolved_at=now - timedelta(minutes=5)
    )
    Agent.objects.filter(pk=ben.pk).update(present_until=None)
    returning = factories.queued_case(chan, customer_obj=maria)

    assert route_case(case_id=returning.pk, now=now).agent == ana


def test_continuity_yields_when_the_agent_is_full(continuity, now):
    chan, ana, ben = continuity
    maria = factories.customer()
    factories.held_case(
        chan, ben, customer_obj=maria, status=CaseStatus.RESOLVED, resolved_at=now - timedelta(minutes=5)
    )
    factories.held_case(chan, ben)
    factories.held_case(chan, ben)  # api 2 of 2
    returning = factories.queued_case(chan, customer_obj=maria)

    offer = route_case(case_id=returning.pk, now=now)

    assert offer.agent == ana
    assert "continuity" not in returning.events.get(kind=CaseEvent.Kind.OFFERED).data


# --- Both directions ------------------------------------------------------------------------


def test_an_agent_coming_online_pulls_the_most_urgent_case_it_may_take(chan, now):
    ana = factories.agent("ana", capacity={"api": 1}, present=False)
    factories.queued_case(chan, at=now - timedelta(minutes=2))
    urgent = factories.queued_case(chan, priority=1, at=now)
    factories.queued_case(chan, priority=1, at=now - timedelta(minutes=5), skills={"billing": 1})  # not for Ana
    Agent.objects.filter(pk=ana.pk).update(present_until=now + timedelta(minutes=5))

    assert route_agent(agent_id=ana.pk, now=now) == 1

    assert _offered_case_ids() == {urgent.pk}
    assert _offered(urgent).agent == ana


def test_an_agent_pulls_a_case_behind_many_it_may_not_take(chan, now):
    ana = factories.agent("ana", capacity={"api": 2})
    start = now - timedelta(hours=1)
    for i in range(150):
        factories.queued_case(chan, skills={"billing": 1}, at=start + timedelta(seconds=i))
    mine = factories.queued_case(chan, at=now)

    assert route_agent(agent_id=ana.pk, now=now) == 1

    assert _offered_case_ids() == {mine.pk}
    assert _offered(mine).agent == ana
    assert Case.objects.filter(status=CaseStatus.QUEUED).count() == 150


def test_route_waiting_reaches_a_case_behind_many_nobody_may_take(chan, now):
    ana = factories.agent("ana", capacity={"api": 2})
    start = now - timedelta(hours=1)
    for i in range(120):
        factories.queued_case(chan, skills={"billing": 1}, at=start + timedelta(seconds=i))
    mine = factories.queued_case(chan, at=now)

    assert route_waiting(now=now, limit=50) == 1

    assert _offered_case_ids() == {mine.pk}
    assert _offered(mine).agent == ana


# --- Fair distribution -----------------------------------------------------------------------


def test_fair_cap_sends_the_third_case_to_another_agent(chan, now):
    RoutingSettings.objects.create(pk=1, fair_cap_assignments=2, fair_cap_window_minutes=60)
    ana = factories.agent("ana", capacity={"api": 10}, total=10)
    ben = factories.agent("ben", capacity={"api": 1}, total=10)
    cases = [factories.queued_case(chan, at=now - timedelta(seconds=10 - i)) for i in range(3)]

    assert route_waiting(now=now) == 3

    assert [_offered(c).agent for c in cases] == [ana, ana, ben]


def test_without_fair_cap_the_most_available_agent_gets_them_all(chan, now):
    ana = factories.agent("ana", capacity={"api": 10}, total=10)
    factories.agent("ben", capacity={"api": 1}, total=10)
    cases = [factories.queued_case(chan, at=now - timedelta(seconds=10 - i)) for i in range(3)]

    assert route_waiting(now=now) == 3

    assert [_offered(c).agent for c in cases] == [ana, ana, ana]


def test_fair_cap_counts_earlier_assignments_in_the_window_and_the_third_case_waits(chan, now):
    RoutingSettings.objects.create(pk=1, fair_cap_assignments=2, fair_cap_window_minutes=60)
    ana = factories.agent("ana", capacity={"api": 10}, total=10)
    first, second, third = (factories.queued_case(chan) for _ in range(3))
    for case in (first, second):
        offer = route_case(case_id=case.pk, now=now - timedelta(minutes=50))
        accept_offer(offer_id=offer.pk, agent=ana, now=now - timedelta(minutes=50))

    assert route_case(case_id=third.pk, now=now) is None
    third.refresh_from_db()
    assert third.status == CaseStatus.QUEUED
    # Outside the window, Ana is fair game again.
    assert route_case(case_id=third.pk, now=now + timedelta(minutes=11)).agent == ana
