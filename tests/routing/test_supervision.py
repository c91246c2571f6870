"""Supervisor actions: assign, reassign, transfer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.models import Agent, Team
from cases.models import Case, CaseEvent, CaseSkill, CaseStatus
from config.api import NotFound
from routing.batch import route_case
from routing.errors import NotAllowed
from routing.loads import agent_loads
from routing.models import Offer, QueueSkill
from routing.offers import accept_offer, decline_offer
from routing.supervision import assign_case, transfer_to_queue
from tests import factories

pytestmark = pytest.mark.django_db


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


# --- Supervisor actions ------------------------------------------------------------------------


def _assigned(case, agent, at) -> Case:
    offer = route_case(case_id=case.pk, now=at)
    assert offer.agent == agent
    return accept_offer(offer_id=offer.pk, agent=agent, now=at)


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
