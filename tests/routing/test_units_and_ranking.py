"""Weighted units and interrupts; the order of waiting cases (rank, aging,
VIP, SLA due times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.models import Case, CaseEvent, CaseStatus
from routing.batch import route_case, route_waiting
from routing.classify import classify_case
from routing.loads import agent_loads
from routing.models import Offer, RoutingSettings
from routing.ranking import rank_of, refresh_ranks
from tests import factories

pytestmark = pytest.mark.django_db


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


def _offered_case_ids() -> set[int]:
    return set(Offer.objects.filter(status=Offer.Status.PENDING).values_list("case_id", flat=True))


def _expected_rank(queued_at: datetime, level: int, aging: int = 300) -> datetime:
    return datetime.fromtimestamp(queued_at.timestamp() + level * aging, tz=UTC)


def _close(a: datetime, b: datetime) -> bool:
    return abs((a - b).total_seconds()) < 0.001


# --- Weighted units and interrupts ---------------------------------------------------


def test_queue_case_units_become_the_case_units_at_classification(now):
    queue = factories.queue("Phone", case_units=3)
    chan = factories.channel("phone", default_queue=queue)
    case = Case.objects.create(
        customer=factories.customer(), channel=chan, channel_kind="api", thread_key="t", created_at=now
    )

    rule = classify_case(case=case, text="hello", now=now)

    assert rule is None
    case.refresh_from_db()
    assert case.queue == queue and case.units == 3 and case.may_interrupt is False
    assert case.events.get(kind=CaseEvent.Kind.CLASSIFIED).data["queue"] == "Phone"


def test_a_case_of_three_units_fills_an_agent_of_three(now):
    queue = factories.queue("Phone", case_units=3)
    chan = factories.channel("phone", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 3}, total=3)
    big = factories.queued_case(chan, units=3)
    small = factories.queued_case(chan, units=1)

    offer = route_case(case_id=big.pk, now=now)

    assert offer.agent == ana and offer.units == 3
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 3}}
    assert route_case(case_id=small.pk, now=now) is None
    small.refresh_from_db()
    assert small.status == CaseStatus.QUEUED


def test_a_case_bigger_than_the_agents_room_is_not_offered(chan, now):
    factories.agent("ana", capacity={"api": 2}, total=5)
    big = factories.queued_case(chan, units=3)

    assert route_case(case_id=big.pk, now=now) is None
    assert not Offer.objects.exists()


def test_loads_are_sums_of_units_of_held_cases_and_pending_offers(now):
    queue = factories.queue("Any")
    mail = factories.channel("mail", kind="email", default_queue=queue)
    api = factories.channel("api", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5, "email": 5}, total=10)
    factories.held_case(mail, ana, units=2)
    factories.held_case(mail, ana, units=1, status=CaseStatus.WRAP_UP)
    factories.held_case(mail, ana, units=4, status=CaseStatus.RESOLVED, resolved_at=now)  # no longer held
    offered = factories.queued_case(api, units=3)
    assert route_case(case_id=offered.pk, now=now).agent == ana

    assert agent_loads([ana.pk]) == {ana.pk: {"email": 3, "api": 3}}


def test_a_case_that_may_interrupt_goes_to_an_agent_with_no_room(chan, now):
    ana = factories.agent("ana", capacity={"api": 1}, total=1)
    factories.held_case(chan, ana)
    normal = factories.queued_case(chan)
    urgent = factories.queued_case(chan, may_interrupt=True)

    assert route_case(case_id=normal.pk, now=now) is None
    offer = route_case(case_id=urgent.pk, now=now)

    assert offer.agent == ana and offer.may_interrupt is True
    urgent.refresh_from_db()
    assert urgent.status == CaseStatus.OFFERED
    normal.refresh_from_db()
    assert normal.status == CaseStatus.QUEUED


# --- Case order with aging ----------------------------------------------------------------


def test_rank_is_the_virtual_deadline(chan, now):
    # queue priority 3 -> 16; case priority 1 -> +0; standard -> +1
    urgent = factories.queued_case(chan, priority=1, at=now)
    vip = factories.queued_case(chan, priority=1, tier="vip", at=now)
    due = now + timedelta(seconds=30)
    with_sla = factories.queued_case(chan, priority=4, at=now, sla_due_at=due)

    assert _close(urgent.route_rank, _expected_rank(now, 17))
    assert _close(vip.route_rank, _expected_rank(now, 16))
    assert _close(with_sla.route_rank, due)  # capped at the SLA due time
    assert _close(rank_of(urgent), urgent.route_rank)


def test_route_waiting_offers_the_most_urgent_first_when_capacity_is_short(chan, now):
    ana = factories.agent("ana", capacity={"api": 1})
    normal = factories.queued_case(chan, priority=3, at=now - timedelta(seconds=10))
    urgent = factories.queued_case(chan, priority=1, at=now)

    assert route_waiting(now=now) == 1

    assert _offered(urgent).agent == ana
    normal.refresh_from_db()
    assert normal.status == CaseStatus.QUEUED


def test_a_low_priority_case_that_waited_long_is_served_before_a_fresh_urgent_one(chan, now):
    factories.agent("ana", capacity={"api": 1})
    # 6 levels apart x 300 s = 30 min: after 40 min the low one comes first.
    low = factories.queued_case(chan, priority=4, at=now - timedelta(minutes=40))
    urgent = factories.queued_case(chan, priority=1, at=now)

    assert route_waiting(now=now) == 1

    assert _offered_case_ids() == {low.pk}
    urgent.refresh_from_db()
    assert urgent.status == CaseStatus.QUEUED


def test_a_low_priority_case_that_waited_a_little_still_comes_after_an_urgent_one(chan, now):
    factories.agent("ana", capacity={"api": 1})
    factories.queued_case(chan, priority=4, at=now - timedelta(minutes=20))
    urgent = factories.queued_case(chan, priority=1, at=now)

    assert route_waiting(now=now) == 1

    assert _offered_case_ids() == {urgent.pk}


def test_vip_comes_before_standard_at_equal_priority(chan, now):
    factories.agent("ana", capacity={"api": 1})
    factories.queued_case(chan, tier="standard", at=now - timedelta(seconds=60))
    vip = factories.queued_case(chan, tier="vip", at=now)

    assert route_waiting(now=now) == 1

    assert _offered_case_ids() == {vip.pk}


def test_a_case_whose_sla_is_due_soon_comes_first(chan, now):
    factories.agent("ana", capacity={"api": 1})
    factories.queued_case(chan, priority=1, at=now - timedelta(minutes=1))
    due_soon = factories.queued_case(chan, priority=4, at=now, sla_due_at=now + timedelta(minutes=1))

    assert route_waiting(now=now) == 1

    assert _offered_case_ids() == {due_soon.pk}


def test_refresh_ranks_applies_a_new_aging_setting(chan, now):
    ana = factories.agent("ana", capacity={"api": 1})
    low_at = now - timedelta(minutes=40)
    low = factories.queued_case(chan, priority=4, at=low_at)
    urgent = factories.queued_case(chan, priority=1, at=now)
    offered_elsewhere = factories.queued_case(chan, at=now)
    route_case(case_id=offered_elsewhere.pk, now=now)  # offered: not queued, not re-ranked
    Offer.objects.filter(case=offered_elsewhere).update(status=Offer.Status.CANCELLED)
    before = Case.objects.get(pk=offered_elsewhere.pk).route_rank
    RoutingSettings.objects.create(pk=1, aging_seconds=1200)  # 20 min a level: 40 min is only 2 levels

    assert refresh_ranks() == 2

    low.refresh_from_db()
    urgent.refresh_from_db()
    assert _close(low.route_rank, _expected_rank(low_at, 23, aging=1200))
    assert _close(urgent.route_rank, _expected_rank(now, 17, aging=1200))
    assert Case.objects.get(pk=offered_elsewhere.pk).route_rank == before
    assert route_waiting(now=now) == 1
    assert _offered(urgent).agent == ana
    low.refresh_from_db()
    assert low.status == CaseStatus.QUEUED
