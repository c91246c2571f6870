"""The router's features against the database: weighted units and interrupts,
case order with aging, agent selection, continuity, both routing directions,
missed offers, decline reasons, auto-accept per channel kind, the response
timer, fair distribution, overflow, wrap-up and supervisor actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from agents.models import Agent, AgentSkill, Team
from cases.models import Case, CaseEvent, CaseSkill, CaseStatus
from cases.services import resolve_case, send_reply
from config.api import Invalid, NotFound
from routing.batch import route_agent, route_case, route_waiting
from routing.classify import classify_case
from routing.errors import NotAllowed
from routing.loads import agent_loads
from routing.models import DeclineReason, Offer, OverflowStep, QueueSkill, RoutingSettings
from routing.offers import accept_offer, decline_offer, expire_offers
from routing.overflow import apply_overflow
from routing.ranking import rank_of, refresh_ranks
from routing.supervision import assign_case, transfer_to_queue
from routing.timers import check_first_replies, end_due_wrap_ups, end_wrap_up
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def chan(db):
    return factories.channel("web", default_queue=factories.queue("General"))


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


def _offered_case_ids() -> set[int]:
    return set(Offer.objects.filter(status=Offer.Status.PENDING).values_list("case_id", flat=True))


def _expected_rank(queued_at: datetime, level: int, aging: int = 300) -> datetime:
    return datetime.fromtimestamp(queued_at.timestamp() + level * aging, tz=UTC)


def _close(a: datetime, b: datetime) -> bool:
    return abs((a - b).total_seconds()) < 0.001


# --- 1. Weighted units and interrupts ---------------------------------------------------


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


# --- 2. Case order with aging ----------------------------------------------------------------


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


# --- 3. Agent selection per queue ------------------------------------------------------------


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


# --- 4. Continuity ---------------------------------------------------------------------------


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


# --- 5. Both directions ------------------------------------------------------------------------


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


# --- 6. Missed offers set the agent away -------------------------------------------------------


@pytest.fixture
def away():
    status = factories.status("Away", [])
    RoutingSettings.objects.create(pk=1, missed_offers_limit=2, away_status=status)
    return status


def test_two_missed_offers_in_a_row_set_the_agent_away(chan, now, away):
    ana = factories.agent("ana")
    first = factories.queued_case(chan)
    second = factories.queued_case(chan)
    assert route_waiting(now=now) == 2
    assert set(Offer.objects.values_list("agent_id", flat=True)) == {ana.pk}

    assert expire_offers(now=now + timedelta(seconds=61)) == 2

    ana.refresh_from_db()
    assert ana.status == away
    assert ana.status_reason == "Set to Away after 2 missed offers in a row."
    assert ana.missed_offers == 0
    assert ana.status_since == now + timedelta(seconds=61)
    for case in (first, second):
        case.refresh_from_db()
        assert case.status == CaseStatus.QUEUED
    assert route_waiting(now=now + timedelta(seconds=62)) == 0  # away is not routable


def test_one_missed_offer_does_not_set_the_agent_away(chan, now, away):
    ana = factories.agent("ana")
    factories.queued_case(chan)
    route_waiting(now=now)

    assert expire_offers(now=now + timedelta(seconds=61)) == 1

    ana.refresh_from_db()
    assert ana.status != away and ana.missed_offers == 1 and ana.status_reason == ""


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_between_misses_resets_the_count(chan, now, away, answer):
    ana = factories.agent("ana")
    missed = factories.queued_case(chan)
    route_case(case_id=missed.pk, now=now)
    assert expire_offers(now=now + timedelta(seconds=61)) == 1
    answered = factories.queued_case(chan)
    offer = route_case(case_id=answered.pk, now=now + timedelta(seconds=62))
    if answer == "accept":
        accept_offer(offer_id=offer.pk, agent=ana, now=now + timedelta(seconds=63))
    else:
        decline_offer(offer_id=offer.pk, agent=ana, reason="", now=now + timedelta(seconds=63))
    ana.refresh_from_db()
    assert ana.missed_offers == 0
    third = factories.queued_case(chan)
    route_case(case_id=third.pk, now=now + timedelta(seconds=64))

    assert expire_offers(now=now + timedelta(seconds=130)) == 1

    ana.refresh_from_db()
    assert ana.status != away and ana.missed_offers == 1


# --- 7. Decline reasons ----------------------------------------------------------------------------


def test_a_reason_outside_the_configured_list_is_refused(chan, now):
    DeclineReason.objects.create(label="Wrong language", order=1)
    DeclineReason.objects.create(label="Busy", order=2)
    DeclineReason.objects.create(label="Retired", is_active=False)
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)

    for reason in ("Tired", "Retired", ""):
        with pytest.raises(Invalid, match="reason must be one of: Wrong language, Busy"):
            decline_offer(offer_id=offer.pk, agent=ana, reason=reason, now=now)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING

    decline_offer(offer_id=offer.pk, agent=ana, reason="Busy", now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED and offer.decline_reason == "Busy"
    assert case.events.get(kind=CaseEvent.Kind.OFFER_DECLINED).data["reason"] == "Busy"


def test_without_configured_reasons_any_text_is_accepted(chan, now):
    ana = factories.agent("ana")
    offer = route_case(case_id=factories.queued_case(chan).pk, now=now)

    decline_offer(offer_id=offer.pk, agent=ana, reason="  Anything at all  ", now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED and offer.decline_reason == "Anything at all"


# --- 8. Auto-accept per channel kind -----------------------------------------------------------


def test_auto_accept_per_channel_kind(now):
    queue = factories.queue("Mixed", auto_accept_channel_kinds=["email"])
    mail = factories.channel("mail", kind="email", default_queue=queue)
    chat = factories.channel("chat", kind="web_chat", default_queue=queue)
    api = factories.channel("api", kind="api", default_queue=queue)
    ana = factories.agent("ana")
    email_case = factories.queued_case(mail)
    chat_case = factories.queued_case(chat)
    api_case = factories.queued_case(api)

    assigned = route_case(case_id=email_case.pk, now=now)
    chat_offer = route_case(case_id=chat_case.pk, now=now)
    api_offer = route_case(case_id=api_case.pk, now=now)

    assert isinstance(assigned, Case)
    email_case.refresh_from_db()
    assert email_case.status == CaseStatus.ASSIGNED and email_case.assignee == ana
    assert email_case.first_assigned_at == now
    assert list(Offer.objects.filter(case=email_case).values_list("status", flat=True)) == [Offer.Status.ACCEPTED]
    event = email_case.events.get(kind=CaseEvent.Kind.ASSIGNED)
    assert event.agent == ana and event.data["via"] == "auto_accept"
    for case, offer in ((chat_case, chat_offer), (api_case, api_offer)):
        assert isinstance(offer, Offer) and offer.status == Offer.Status.PENDING and offer.agent == ana
        case.refresh_from_db()
        assert case.status == CaseStatus.OFFERED and case.assignee is None


# --- 9. Response timer -----------------------------------------------------------------------------


def _assigned(case, agent, at) -> Case:
    offer = route_case(case_id=case.pk, now=at)
    assert offer.agent == agent
    return accept_offer(offer_id=offer.pk, agent=agent, now=at)


def test_no_first_reply_in_time_escalates_once(now):
    queue = factories.queue("Chat", first_reply_minutes=5, first_reply_action="escalate")
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana")
    late = factories.queued_case(chan)
    _assigned(late, ana, now - timedelta(minutes=6))
    recent = factories.queued_case(chan)
    _assigned(recent, ana, now - timedelta(minutes=4))

    assert check_first_replies(now=now) == 1
    assert check_first_replies(now=now + timedelta(seconds=1)) == 0

    late.refresh_from_db()
    assert late.escalated_at == now
    assert late.status == CaseStatus.ASSIGNED and late.assignee == ana
    event = late.events.get(kind=CaseEvent.Kind.ESCALATED)
    assert event.data == {"reason": "no first reply within 5 min"}
    recent.refresh_from_db()
    assert recent.escalated_at is None


def test_a_case_that_got_a_reply_is_not_escalated(now):
    queue = factories.queue("Chat", first_reply_minutes=5)
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    _assigned(case, ana, now - timedelta(minutes=10))
    send_reply(case_id=case.pk, agent=ana, text="Looking into it", now=now - timedelta(minutes=9))

    assert check_first_replies(now=now) == 0

    case.refresh_from_db()
    assert case.escalated_at is None
    assert not case.events.filter(kind__in=[CaseEvent.Kind.ESCALATED, CaseEvent.Kind.RETURNED]).exists()


def test_no_first_reply_in_time_returns_the_case_to_the_queue_without_the_agent(now):
    queue = factories.queue("Chat", first_reply_minutes=5, first_reply_action="requeue")
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5})
    case = factories.queued_case(chan)
    _assigned(case, ana, now - timedelta(minutes=6))

    assert check_first_replies(now=now) == 1

    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None
    assert case.overflow["excluded"] == [ana.pk]
    assert case.queued_at == now
    returned = case.events.get(kind=CaseEvent.Kind.RETURNED)
    assert returned.data == {"agent_id": ana.pk, "reason": "no first reply within 5 min"}
    assert agent_loads([ana.pk]) == {}
    # Ana alone: nobody may take it; Ben (less room) gets it once there.
    assert route_case(case_id=case.pk, now=now) is None
    ben = factories.agent("ben", capacity={"api": 1})
    assert route_case(case_id=case.pk, now=now).agent == ben
    assert check_first_replies(now=now + timedelta(minutes=10)) == 0


# --- 10. Fair distribution -----------------------------------------------------------------------


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


# --- 11. Overflow -------------------------------------------------------------------------------------


def _overflow_events(case) -> list[dict]:
    return [e.data for e in case.events.filter(kind=CaseEvent.Kind.OVERFLOW).order_by("pk")]


def test_lower_proficiency_relaxes_optional_skills_after_the_threshold(now):
    queue = factories.queue("Billing")
    chan = factories.channel("b", default_queue=queue)
    OverflowStep.objects.create(queue=queue, after_seconds=60, action="lower_proficiency", amount=1)
    ana = factories.agent("ana", skills={"billing": 3, "lang-es": 2})
    case = factories.queued_case(
        chan, skills={"billing": 4, "lang-es": 3}, optional=("billing",), at=now - timedelta(seconds=90)
    )
    fresh = factories.queued_case(chan, skills={"billing": 4}, optional=("billing",), at=now - timedelta(seconds=30))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow_level == 1
    assert dict(CaseSkill.objects.filter(case=case).values_list("skill__name", "min_proficiency")) == {
        "billing": 3,
        "lang-es": 3,  # not optional: kept
    }
    assert _overflow_events(case) == [
        {"step": 1, "action": "lower_proficiency", "after_seconds": 60, "lowered": ["billing 4→3"]}
    ]
    fresh.refresh_from_db()
    assert fresh.overflow_level == 0 and not _overflow_events(fresh)
    assert CaseSkill.objects.get(case=fresh).min_proficiency == 4
    # lang-es 3 is still required and Ana has 2
    assert route_case(case_id=case.pk, now=now) is None
    skill = AgentSkill.objects.get(agent=ana, skill__name="lang-es")
    skill.proficiency = 3
    skill.save()  # as the admin and the API save it: the router sees it at once
    assert route_case(case_id=case.pk, now=now).agent == ana


def test_drop_optional_skills_keeps_the_required_ones(now):
    queue = factories.queue("Billing")
    chan = factories.channel("b", default_queue=queue)
    OverflowStep.objects.create(queue=queue, after_seconds=60, action="drop_optional_skills")
    factories.agent("biller", skills={"billing": 5})  # lacks lang-es: still not eligible
    speaker = factories.agent("speaker", skills={"lang-es": 1})
    case = factories.queued_case(
        chan, skills={"billing": 3, "lang-es": 1}, optional=("billing",), at=now - timedelta(seconds=61)
    )
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    assert list(CaseSkill.objects.filter(case=case).values_list("skill__name", flat=True)) == ["lang-es"]
    assert _overflow_events(case) == [
        {"step": 1, "action": "drop_optional_skills", "after_seconds": 60, "dropped": ["billing"]}
    ]
    assert route_case(case_id=case.pk, now=now).agent == speaker


def test_add_queue_lets_the_other_queues_members_take_it(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    other_team = Team.objects.create(name="Other team")
    other = factories.queue("Other", team=other_team)
    direct = factories.queue("Direct")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_queue", target_queue=other)
    factories.agent("outsider", capacity={"api": 9})
    member = factories.agent("member", teams=[other_team])
    direct.agents.add(factories.agent("direct", capacity={"api": 8}))
    case = factories.queued_case(chan, at=now - timedelta(seconds=120))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"queues": [other.pk]}
    assert _overflow_events(case) == [{"step": 1, "action": "add_queue", "after_seconds": 60, "queue": "Other"}]
    assert route_case(case_id=case.pk, now=now).agent == member


def test_add_queue_reaches_direct_members_of_the_other_queue(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    other = factories.queue("Other")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_queue", target_queue=other)
    factories.agent("outsider", capacity={"api": 9})
    member = factories.agent("member")
    other.agents.add(member)
    case = factories.queued_case(chan, at=now - timedelta(seconds=120))
    assert route_case(case_id=case.pk, now=now) is None

    apply_overflow(now=now)

    assert route_case(case_id=case.pk, now=now).agent == member


def test_add_team_lets_that_team_take_it(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    helpers = Team.objects.create(name="Helpers")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_team", target_team=helpers)
    factories.agent("outsider", capacity={"api": 9})
    helper = factories.agent("helper", teams=[helpers])
    case = factories.queued_case(chan, at=now - timedelta(seconds=60))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"teams": [helpers.pk]}
    assert _overflow_events(case) == [{"step": 1, "action": "add_team", "after_seconds": 60, "team": "Helpers"}]
    assert route_case(case_id=case.pk, now=now).agent == helper


def test_anyone_opens_the_case_to_every_agent(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="anyone")
    outsider = factories.agent("outsider")
    case = factories.queued_case(chan, at=now - timedelta(seconds=60))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"anyone": True}
    assert route_case(case_id=case.pk, now=now).agent == outsider


def test_overflow_steps_are_taken_once_each_in_order(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=300, action="anyone")
    OverflowStep.objects.create(queue=home, after_seconds=60, action="lower_proficiency", amount=2)
    OverflowStep.objects.create(queue=home, after_seconds=120, action="drop_optional_skills")
    start = now - timedelta(seconds=90)
    case = factories.queued_case(chan, skills={"billing": 5}, optional=("billing",), at=start)

    assert apply_overflow(now=now) == 1
    assert apply_overflow(now=now) == 0  # the first step is not taken twice
    case.refresh_from_db()
    assert case.overflow_level == 1 and CaseSkill.objects.get(case=case).min_proficiency == 3

    assert apply_overflow(now=start + timedelta(seconds=400)) == 2  # both remaining, in order
    assert apply_overflow(now=start + timedelta(seconds=500)) == 0

    case.refresh_from_db()
    assert case.overflow_level == 3 and case.overflow == {"anyone": True}
    assert not CaseSkill.objects.filter(case=case).exists()
    assert [(e["step"], e["action"]) for e in _overflow_events(case)] == [
        (1, "lower_proficiency"),
        (2, "drop_optional_skills"),
        (3, "anyone"),
    ]


def test_overflow_does_not_touch_cases_that_are_not_waiting(now):
    home = factories.queue("Home")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="anyone")
    ana = factories.agent("ana")
    case = factories.queued_case(chan, at=now - timedelta(seconds=600))
    route_case(case_id=case.pk, now=now)  # offered

    assert apply_overflow(now=now) == 0

    case.refresh_from_db()
    assert case.overflow_level == 0 and case.status == CaseStatus.OFFERED
    assert _offered(case).agent == ana


# --- 12. Wrap-up --------------------------------------------------------------------------------------


@pytest.fixture
def wrap(now):
    queue = factories.queue("Calls", wrap_up_seconds=60)
    chan = factories.channel("calls", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 1})
    first = factories.queued_case(chan, at=now - timedelta(seconds=2))
    second = factories.queued_case(chan, at=now - timedelta(seconds=1))
    _assigned(first, ana, now)
    return ana, first, second


def test_resolving_puts_the_case_in_wrap_up_holding_capacity(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap

    with django_capture_on_commit_callbacks(execute=True):
        case = resolve_case(case_id=first.pk, agent=ana, now=now)

    assert case.status == CaseStatus.WRAP_UP
    first.refresh_from_db()
    assert first.status == CaseStatus.WRAP_UP and first.assignee == ana
    assert first.wrap_up_until == now + timedelta(seconds=60) and first.resolved_at == now
    assert first.events.get(kind=CaseEvent.Kind.WRAP_UP).data == {"until": first.wrap_up_until.isoformat()}
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 1}}
    assert route_case(case_id=second.pk, now=now) is None
    assert not Offer.objects.filter(case=second).exists()


def test_ending_wrap_up_resolves_and_the_agent_pulls_the_next_case(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap
    resolve_case(case_id=first.pk, agent=ana, now=now)

    with django_capture_on_commit_callbacks(execute=True):
        end_wrap_up(case_id=first.pk, agent=ana, now=now + timedelta(seconds=20))

    first.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED and first.wrap_up_until is None
    assert first.events.get(kind=CaseEvent.Kind.RESOLVED).data == {"wrap_up_ended": True}
    assert _offered(second).agent == ana
    with pytest.raises(NotAllowed):
        end_wrap_up(case_id=first.pk, agent=ana, now=now + timedelta(seconds=21))


def test_someone_else_cannot_end_the_wrap_up(wrap, now):
    ana, first, _ = wrap
    ben = factories.agent("ben")
    resolve_case(case_id=first.pk, agent=ana, now=now)

    with pytest.raises(NotAllowed, match="not yours"):
        end_wrap_up(case_id=first.pk, agent=ben, now=now)

    first.refresh_from_db()
    assert first.status == CaseStatus.WRAP_UP


def test_wrap_up_ends_when_its_time_limit_passes(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap
    resolve_case(case_id=first.pk, agent=ana, now=now)
    assert end_due_wrap_ups(now=now + timedelta(seconds=59)) == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert end_due_wrap_ups(now=now + timedelta(seconds=61)) == 1

    first.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED
    assert _offered(second).agent == ana
    ana.refresh_from_db()
    assert ana.idle_since == now + timedelta(seconds=61)  # held nothing from then (an offer is not held)
    assert end_due_wrap_ups(now=now + timedelta(seconds=120)) == 0


# --- 13. Supervisor actions ------------------------------------------------------------------------


def test_assigning_a_queued_case_to_an_agent(chan, now):
    ana = factories.agent("ana")
    boss = factories.user("boss", role="supervisor")
    case = factories.queued_case(chan)

    assign_case(case_id=case.pk, agent_id=ana.pk, now=now, actor=boss)

    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == ana and case.first_assigned_at == now
    event = case.events.get(kind=CaseEvent.Kind.ASSIGNED)
    assert event.actor == boss and event.agent == ana
    assert event.data == {"via": "supervisor", "forced": False, "previous_agent_id": None}


def test_assigning_to_an_agent_at_capacity_needs_force(chan, now):
    ana = factories.agent("ana", capacity={"api": 1})
    factories.held_case(chan, ana)
    case = factories.queued_case(chan)

    with pytest.raises(NotAllowed, match="capacity"):
        assign_case(case_id=case.pk, agent_id=ana.pk, now=now)
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None

    assign_case(case_id=case.pk, agent_id=ana.pk, now=now, force=True)

    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == ana
    assert case.events.get(kind=CaseEvent.Kind.ASSIGNED).data["forced"] is True
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 2}}


def test_assigning_to_an_offline_agent_or_one_without_the_skill_needs_force(chan, now):
    offline = factories.agent("off", present=False)
    unskilled = factories.agent("unskilled")
    case = factories.queued_case(chan, skills={"billing": 2})

    with pytest.raises(NotAllowed, match="status"):
        assign_case(case_id=case.pk, agent_id=offline.pk, now=now)
    with pytest.raises(NotAllowed, match="skill"):
        assign_case(case_id=case.pk, agent_id=unskilled.pk, now=now)
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED


def test_a_supervisor_may_assign_outside_the_queue_and_after_a_decline(now):
    team = Team.objects.create(name="T")
    chan = factories.channel("t", default_queue=factories.queue("Q", team=team))
    outsider = factories.agent("outsider")
    member = factories.agent("member", teams=[team])
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    decline_offer(offer_id=offer.pk, agent=member, reason="", now=now)

    assign_case(case_id=case.pk, agent_id=member.pk, now=now)
    assign_case(case_id=case.pk, agent_id=outsider.pk, now=now)

    case.refresh_from_db()
    assert case.assignee == outsider


def test_reassigning_frees_the_previous_agent(chan, now, django_capture_on_commit_callbacks):
    ana = factories.agent("ana", capacity={"api": 1})
    ben = factories.agent("ben", capacity={"api": 1})
    case = factories.queued_case(chan, at=now - timedelta(seconds=5))
    _assigned(case, ana, now)
    waiting = factories.queued_case(chan)
    Agent.objects.filter(pk=ben.pk).update(present_until=None)  # so the waiting case stays waiting
    assert route_case(case_id=waiting.pk, now=now) is None
    Agent.objects.filter(pk=ben.pk).update(present_until=now + timedelta(minutes=10))

    with django_capture_on_commit_callbacks(execute=True):
        assign_case(case_id=case.pk, agent_id=ben.pk, now=now, force=False)

    case.refresh_from_db()
    assert case.assignee == ben
    assert case.events.filter(kind=CaseEvent.Kind.ASSIGNED).last().data["previous_agent_id"] == ana.pk
    assert agent_loads([ana.pk, ben.pk])[ben.pk] == {"api": 1}
    assert _offered(waiting).agent == ana  # Ana, freed, pulled the waiting case


def test_assigning_an_offered_case_cancels_its_pending_offer(chan, now):
    ana = factories.agent("ana")
    ben = factories.agent("ben", capacity={"api": 1})
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    assert offer.agent == ana

    assign_case(case_id=case.pk, agent_id=ben.pk, now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED and offer.responded_at == now
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == ben
    assert agent_loads([ana.pk]) == {}


def test_assigning_an_offered_case_to_the_agent_it_is_offered_to(chan, now):
    """The pending offer holds the agent's only unit; assigning the same case
    to them takes no more room, so it needs no force."""
    ana = factories.agent("ana", capacity={"api": 1})
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)

    assign_case(case_id=case.pk, agent_id=ana.pk, now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == ana
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 1}}


def test_transfer_moves_the_case_with_the_new_queues_skills(now):
    billing = factories.queue("Billing", case_units=1)
    returns = factories.queue("Returns", case_units=2)
    QueueSkill.objects.create(queue=billing, skill=factories.skill("billing"), min_proficiency=2)
    QueueSkill.objects.create(queue=returns, skill=factories.skill("returns"), min_proficiency=3)
    chan = factories.channel("b", default_queue=billing)
    ana = factories.agent("ana", skills={"billing": 3, "lang-es": 2})
    case = factories.queued_case(chan, skills={"billing": 2, "lang-es": 1})
    offer = route_case(case_id=case.pk, now=now)
    assert offer.agent == ana
    boss = factories.user("boss", role="supervisor")

    transfer_to_queue(case_id=case.pk, queue_id=returns.pk, now=now, actor=boss)

    case.refresh_from_db()
    assert case.queue == returns and case.status == CaseStatus.QUEUED and case.assignee is None
    assert case.units == 2 and case.queued_at == now
    assert dict(CaseSkill.objects.filter(case=case).values_list("skill__name", "min_proficiency")) == {
        "lang-es": 1,
        "returns": 3,
    }
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
    event = case.events.get(kind=CaseEvent.Kind.TRANSFERRED)
    assert event.actor == boss and event.data == {"from_queue": "Billing", "to_queue": "Returns"}
    assert route_case(case_id=case.pk, now=now) is None  # Ana lacks "returns"
    returner = factories.agent("returner", skills={"returns": 3, "lang-es": 1})
    assert route_case(case_id=case.pk, now=now).agent == returner


def test_transferring_an_assigned_case_frees_its_agent(chan, now):
    ana = factories.agent("ana", capacity={"api": 1})
    case = factories.queued_case(chan)
    _assigned(case, ana, now)
    other = factories.queue("Other")

    transfer_to_queue(case_id=case.pk, queue_id=other.pk, now=now)

    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None and case.queue == other
    assert agent_loads([ana.pk]) == {}


def test_transfer_to_an_unknown_or_inactive_queue_changes_nothing(chan, now):
    inactive = factories.queue("Closed", is_active=False)
    case = factories.queued_case(chan)
    queue_id = case.queue_id

    for bad in (inactive.pk, 999_999):
        with pytest.raises(NotFound):
            transfer_to_queue(case_id=case.pk, queue_id=bad, now=now)

    case.refresh_from_db()
    assert case.queue_id == queue_id and case.status == CaseStatus.QUEUED
    assert not case.events.filter(kind=CaseEvent.Kind.TRANSFERRED).exists()
