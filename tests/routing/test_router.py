"""The router against the database: eligibility, offers, answers, timeouts,
and both directions (a case starts waiting; an agent gains room)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import AgentCapacity
from agents.services import set_status, touch_presence
from cases.models import Case, CaseEvent, CaseStatus
from cases.services import resolve_case
from config.api import NotFound
from routing.batch import route_case, route_waiting
from routing.errors import OfferUnavailable
from routing.models import Offer
from routing.offers import accept_offer, decline_offer, expire_offers
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def chan(db):
    return factories.channel("web", default_queue=factories.queue("General"))


def test_case_is_offered_to_an_eligible_agent(chan, now):
    agent = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    assert isinstance(offer, Offer)
    assert offer.agent == agent and offer.status == Offer.Status.PENDING
    assert offer.expires_at == now + timedelta(seconds=60)
    case.refresh_from_db()
    assert case.status == CaseStatus.OFFERED and case.first_offered_at == now
    assert case.events.filter(kind=CaseEvent.Kind.OFFERED, agent=agent).exists()


def test_agent_whose_status_does_not_enable_the_channel_is_not_offered(chan, now):
    factories.agent("ana", presence=factories.status("Email only", ["email"]))
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED


def test_agent_without_a_live_session_is_not_offered(chan, now):
    factories.agent("ana", present=False)
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None


def test_agent_at_capacity_on_the_channel_is_not_offered(chan, now):
    agent = factories.agent("ana", capacity={"api": 1})
    first = factories.queued_case(chan)
    second = factories.queued_case(chan)
    assert route_case(case_id=first.pk, now=now).agent == agent
    assert route_case(case_id=second.pk, now=now) is None  # the pending offer holds the unit


def test_total_capacity_caps_all_channels(now):
    queue = factories.queue("Any")
    api = factories.channel("api", default_queue=queue)
    mail = factories.channel("mail", kind="email", default_queue=queue)
    factories.agent("ana", capacity={"api": 3, "email": 3}, total=1)
    assert route_case(case_id=factories.queued_case(api).pk, now=now) is not None
    assert route_case(case_id=factories.queued_case(mail).pk, now=now) is None


def test_required_skill_and_proficiency_are_respected(chan, now):
    factories.agent("low", skills={"lang-es": 2})
    high = factories.agent("high", skills={"lang-es": 4})
    case = factories.queued_case(chan, skills={"lang-es": 3})
    assert route_case(case_id=case.pk, now=now).agent == high


def test_only_members_of_the_queue_are_offered(now):
    from agents.models import Team

    team = Team.objects.create(name="Spanish team")
    queue = factories.queue("Spanish", team=team)
    chan = factories.channel("es", default_queue=queue)
    factories.agent("outsider")
    member = factories.agent("member", teams=[team])
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now).agent == member


def test_direct_queue_member_is_offered(now):
    queue = factories.queue("VIP desk")
    chan = factories.channel("vip", default_queue=queue)
    factories.agent("outsider")
    member = factories.agent("member")
    queue.agents.add(member)
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now).agent == member


def test_accept_assigns_the_case(chan, now):
    agent = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    assigned = accept_offer(offer_id=offer.pk, agent=agent, now=now + timedelta(seconds=5))
    assert assigned.status == CaseStatus.ASSIGNED and assigned.assignee == agent
    offer.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED


def test_accepting_twice_or_someone_elses_offer_is_refused(chan, now):
    agent = factories.agent("ana")
    other = factories.agent("ben", present=False)
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    with pytest.raises(NotFound):
        accept_offer(offer_id=offer.pk, agent=other, now=now)
    accept_offer(offer_id=offer.pk, agent=agent, now=now)
    with pytest.raises(OfferUnavailable):
        accept_offer(offer_id=offer.pk, agent=agent, now=now)
    case.refresh_from_db()
    assert case.assignee == agent


def test_declined_offer_is_not_offered_again_to_same_agent(chan, now, django_capture_on_commit_callbacks):
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        decline_offer(offer_id=offer.pk, agent=ana, reason="Busy", now=now)
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED  # nobody else: it waits
    assert route_case(case_id=case.pk, now=now) is None
    ben = factories.agent("ben")
    assert route_case(case_id=case.pk, now=now).agent == ben


def test_offer_times_out_and_is_rerouted_without_that_agent(chan, now, django_capture_on_commit_callbacks):
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    ben = factories.agent("ben")
    assert expire_offers(now=now + timedelta(seconds=59)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_offers(now=now + timedelta(seconds=61)) == 1
    offer.refresh_from_db()
    assert offer.status == Offer.Status.TIMED_OUT
    new = Offer.objects.get(case=case, status=Offer.Status.PENDING)
    assert new.agent == ben and new.agent != ana
    # each offer times out once: another scan does not touch the first offer again
    expire_offers(now=now + timedelta(seconds=62))
    assert case.events.filter(kind=CaseEvent.Kind.OFFER_TIMED_OUT, data__offer_id=offer.pk).count() == 1


def test_accepting_an_expired_offer_fails_and_times_it_out(chan, now):
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)
    with pytest.raises(OfferUnavailable):
        accept_offer(offer_id=offer.pk, agent=ana, now=now + timedelta(seconds=61))
    offer.refresh_from_db()
    assert offer.status == Offer.Status.TIMED_OUT  # timed out at once, not left for the scan
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None
    assert expire_offers(now=now + timedelta(seconds=61)) == 0
    ana.refresh_from_db()
    assert ana.missed_offers == 1  # too late is missed, as when the scan times it out


def test_auto_accept_queue_assigns_at_once(now):
    queue = factories.queue("Email", auto_accept=True)
    chan = factories.channel("mail", kind="email", default_queue=queue)
    agent = factories.agent("ana")
    case = factories.queued_case(chan)
    result = route_case(case_id=case.pk, now=now)
    assert isinstance(result, Case) and result.assignee == agent and result.status == CaseStatus.ASSIGNED
    # Recorded as an offer accepted on the spot (fair distribution counts it); nothing pending.
    assert list(Offer.objects.filter(case=case).values_list("status", flat=True)) == [Offer.Status.ACCEPTED]


def test_agent_coming_online_pulls_waiting_work(chan, now, django_capture_on_commit_callbacks):
    agent = factories.agent("ana", present=False)
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert touch_presence(agent_id=agent.pk, now=timezone.now()) is True
    assert Offer.objects.get(case=case).agent == agent


def test_status_change_to_a_routable_status_pulls_work(chan, now, django_capture_on_commit_callbacks):
    offline = factories.status("Offline", [])
    agent = factories.agent("ana", presence=offline)
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None
    with django_capture_on_commit_callbacks(execute=True):
        set_status(agent_id=agent.pk, status_id=factories.status().pk, now=timezone.now())
    assert Offer.objects.get(case=case).agent == agent


def test_resolving_frees_capacity_and_the_agent_pulls_the_next_case(chan, django_capture_on_commit_callbacks):
    now = timezone.now()
    agent = factories.agent("ana", capacity={"api": 1})
    first = factories.queued_case(chan)
    second = factories.queued_case(chan)
    offer = route_case(case_id=first.pk, now=now)
    accept_offer(offer_id=offer.pk, agent=agent, now=now)
    assert route_case(case_id=second.pk, now=now) is None
    with django_capture_on_commit_callbacks(execute=True):
        resolve_case(case_id=first.pk, agent=agent, now=timezone.now())
    assert Offer.objects.get(case=second).agent == agent


def test_periodic_scan_offers_cases_whose_routing_task_was_lost(chan, now):
    factories.agent("ana", capacity={"api": 2})
    older = factories.queued_case(chan, at=now - timedelta(minutes=5))
    urgent = factories.queued_case(chan, priority=1, at=now)
    low = factories.queued_case(chan, priority=4, at=now - timedelta(minutes=10))
    assert route_waiting(now=now) == 2
    offered = set(Offer.objects.values_list("case_id", flat=True))
    assert offered == {urgent.pk, older.pk}  # most urgent first; the low one waits
    low.refresh_from_db()
    assert low.status == CaseStatus.QUEUED


def test_database_refuses_a_second_pending_offer_for_a_case(chan, now):
    ana = factories.agent("ana")
    ben = factories.agent("ben")
    case = factories.queued_case(chan)
    Offer.objects.create(case=case, agent=ana, channel_kind="api", created_at=now, expires_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.create(case=case, agent=ben, channel_kind="api", created_at=now, expires_at=now)


def test_database_refuses_an_assigned_case_without_assignee(chan, now):
    case = factories.queued_case(chan)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED)


def test_a_stale_cached_profile_never_puts_an_agent_over_capacity(chan, now):
    # The planner may use agent profiles cached for a few seconds; what is
    # written is planned again from a fresh read under the agent's lock.
    agent = factories.agent("ana", capacity={"api": 2}, total=5)
    first, second = factories.queued_case(chan), factories.queued_case(chan)
    assert route_case(case_id=first.pk, now=now).agent == agent  # profile now cached
    AgentCapacity.objects.filter(agent=agent, channel_kind="api").update(units=1)  # no signal: cache stale
    assert route_case(case_id=second.pk, now=now) is None
    second.refresh_from_db()
    assert second.status == CaseStatus.QUEUED
    assert Offer.objects.filter(agent=agent, status=Offer.Status.PENDING).count() == 1


def test_longest_idle_counts_from_the_last_case_handed_over():
    queue = factories.queue("Chat", agent_selection="longest_idle")
    chan = factories.channel("web2", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5}, total=5)
    ben = factories.agent("ben", capacity={"api": 5}, total=5)
    got = [route_case(case_id=factories.queued_case(chan).pk, now=timezone.now()).agent for _ in range(4)]
    assert got.count(ana) == 2 and got.count(ben) == 2  # turns, not all to whoever was idle first
    assert got[0] != got[1]


def test_anyone_routable_is_true_only_for_a_present_active_agent_in_a_status_enabling_a_kind(chan, now):
    from routing.agent_states import anyone_routable, routable_agent_ids

    assert not anyone_routable(now)
    factories.agent("off", presence=factories.status("Break", []))
    factories.agent("gone", present=False)
    idle = factories.agent("idle", presence=None)
    inactive = factories.agent("inactive")
    inactive.is_active = False
    inactive.save()
    assert not anyone_routable(now) and routable_agent_ids(now) == []
    assert route_waiting(now=now) == 0
    ana = factories.agent("ana", presence=factories.status("Chat", ["web_chat"]))
    assert anyone_routable(now) and routable_agent_ids(now) == [ana.pk]
    assert idle.status is None
