"""The router's REST endpoints: decline reasons, end wrap-up, a waiting case's
position, and the supervisors' assign and transfer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Agent, Role, Team
from cases.models import CaseEvent, CaseSkill, CaseStatus
from routing.batch import route_case
from routing.loads import agent_loads
from routing.models import DeclineReason, Offer, Queue, QueueSkill
from routing.offers import accept_offer
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass
class World:
    ana: Agent  # team A
    ben: Agent  # team B
    queue_a: Queue
    queue_b: Queue
    chan_a: object
    chan_b: object
    boss_a: object  # supervisor of team A
    admin: object


@pytest.fixture
def world() -> World:
    team_a = Team.objects.create(name="Team A")
    team_b = Team.objects.create(name="Team B")
    queue_a = factories.queue("Queue A", team=team_a)
    queue_b = factories.queue("Queue B", team=team_b)
    boss_a = factories.user("boss", role=Role.SUPERVISOR)
    team_a.supervisors.add(boss_a)
    return World(
        ana=factories.agent("ana", teams=[team_a], capacity={"api": 1}),
        ben=factories.agent("ben", teams=[team_b], capacity={"api": 1}),
        queue_a=queue_a,
        queue_b=queue_b,
        chan_a=factories.channel("a", default_queue=queue_a),
        chan_b=factories.channel("b", default_queue=queue_b),
        boss_a=boss_a,
        admin=factories.user("root", role=Role.ADMIN),
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(user, path: str, body: dict | None = None):
    return _client(user).post(path, body or {}, content_type="application/json")


# --- Decline reasons -------------------------------------------------------------------


def test_decline_reasons_lists_the_active_labels_in_order(world):
    DeclineReason.objects.create(label="Wrong language", order=2)
    DeclineReason.objects.create(label="Busy", order=1)
    DeclineReason.objects.create(label="Retired", order=0, is_active=False)

    response = _client(world.ana.user).get("/api/v1/offers/decline-reasons/")

    assert response.status_code == 200, response.content
    assert response.json() == ["Busy", "Wrong language"]


def test_decline_reasons_is_empty_when_none_are_configured(world):
    response = _client(world.ana.user).get("/api/v1/offers/decline-reasons/")

    assert response.status_code == 200 and response.json() == []


def test_declining_with_a_reason_outside_the_list_is_400_and_the_offer_stays_pending(world):
    DeclineReason.objects.create(label="Busy")
    case = factories.queued_case(world.chan_a)
    offer = route_case(case_id=case.pk, now=timezone.now())
    assert offer.agent == world.ana
    path = f"/api/v1/offers/{offer.pk}/decline/"

    refused = _post(world.ana.user, path, {"reason": "Lunch"})

    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid", "detail": "reason must be one of: Busy"}
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING
    case.refresh_from_db()
    assert case.status == CaseStatus.OFFERED

    accepted = _post(world.ana.user, path, {"reason": "Busy"})

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "declined" and accepted.json()["decline_reason"] == "Busy"


# --- End wrap-up -------------------------------------------------------------------------


def test_end_wrap_up_through_the_api(world, django_capture_on_commit_callbacks):
    Queue.objects.filter(pk=world.queue_a.pk).update(wrap_up_seconds=60)
    now = timezone.now()
    first = factories.queued_case(world.chan_a, at=now - timedelta(seconds=2))
    second = factories.queued_case(world.chan_a, at=now - timedelta(seconds=1))
    offer = route_case(case_id=first.pk, now=now)
    accept_offer(offer_id=offer.pk, agent=world.ana, now=now)
    client = _client(world.ana.user)

    resolved = client.post(f"/api/v1/cases/{first.pk}/resolve/")
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "wrap_up"
    assert not Offer.objects.filter(case=second).exists()
    assert _post(world.ben.user, f"/api/v1/cases/{first.pk}/end-wrap-up/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/cases/{first.pk}/end-wrap-up/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    first.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED and first.wrap_up_until is None
    assert Offer.objects.get(case=second, status=Offer.Status.PENDING).agent == world.ana
    again = client.post(f"/api/v1/cases/{first.pk}/end-wrap-up/")
    assert again.status_code == 409
    assert again.json()["error"] == "not_allowed"


# --- Position ------------------------------------------------------------------------------


def test_position_among_the_queues_waiting_cases_and_wait_estimate(world):
    Agent.objects.filter(pk__in=[world.ana.pk, world.ben.pk]).update(present_until=None)
    now = timezone.now()
    oldest = factories.queued_case(world.chan_a, at=now - timedelta(minutes=3))
    middle = factories.queued_case(world.chan_a, at=now - timedelta(minutes=2))
    urgent = factories.queued_case(world.chan_a, priority=1, at=now)  # ranks first
    factories.queued_case(world.chan_b, priority=1, at=now - timedelta(minutes=10))  # another queue
    client = _client(world.admin)

    def position(case):
        response = client.get(f"/api/v1/cases/{case.pk}/position/")
        assert response.status_code == 200, response.content
        return response.json()

    assert position(urgent) == {"position": 1, "estimated_wait_seconds": None, "status": "queued"}
    assert position(oldest)["position"] == 2
    assert position(middle) == {"position": 3, "estimated_wait_seconds": None, "status": "queued"}

    Agent.objects.filter(pk=world.ana.pk).update(present_until=now + timedelta(minutes=10))
    offer = route_case(case_id=urgent.pk, now=now)
    assert offer.agent == world.ana

    assert position(urgent) == {"position": None, "estimated_wait_seconds": None, "status": "offered"}
    # one case served in the last hour: one an hour, so the second in line waits about two hours
    assert position(middle) == {"position": 2, "estimated_wait_seconds": 7200, "status": "queued"}
    assert position(oldest) == {"position": 1, "estimated_wait_seconds": 3600, "status": "queued"}


def test_offers_older_than_an_hour_give_no_estimate(world):
    now = timezone.now()
    served = factories.queued_case(world.chan_a)
    route_case(case_id=served.pk, now=now - timedelta(minutes=61))
    waiting = factories.queued_case(world.chan_a)

    response = _client(world.admin).get(f"/api/v1/cases/{waiting.pk}/position/")

    assert response.json() == {"position": 1, "estimated_wait_seconds": None, "status": "queued"}


def test_position_of_a_case_the_user_may_not_see_is_404(world):
    theirs = factories.queued_case(world.chan_b)

    assert _client(world.ana.user).get(f"/api/v1/cases/{theirs.pk}/position/").status_code == 404
    assert _client(world.boss_a).get(f"/api/v1/cases/{theirs.pk}/position/").status_code == 404


# --- Assign ----------------------------------------------------------------------------------------


def test_an_agent_may_not_assign_or_transfer(world):
    case = factories.queued_case(world.chan_a)
    token = Token.objects.create(user=world.ana.user)
    client = Client()

    assign = client.post(
        f"/api/v1/cases/{case.pk}/assign/",
        {"agent": world.ana.pk},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    transfer = client.post(
        f"/api/v1/cases/{case.pk}/transfer/",
        {"queue": world.queue_b.pk},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )

    assert assign.status_code == 403 and transfer.status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None and case.queue == world.queue_a
    assert not case.events.filter(kind__in=[CaseEvent.Kind.ASSIGNED, CaseEvent.Kind.TRANSFERRED]).exists()


def test_a_supervisor_assigns_a_case_of_their_team(world):
    case = factories.queued_case(world.chan_a)

    response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/assign/", {"agent": world.ana.pk})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "assigned" and response.json()["assignee_id"] == world.ana.pk
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == world.ana
    event = case.events.get(kind=CaseEvent.Kind.ASSIGNED)
    assert event.actor == world.boss_a and event.data["via"] == "supervisor" and event.data["forced"] is False


def test_a_supervisor_of_another_team_does_not_find_the_case(world):
    theirs = factories.queued_case(world.chan_b)

    assign = _post(world.boss_a, f"/api/v1/cases/{theirs.pk}/assign/", {"agent": world.ana.pk})
    transfer = _post(world.boss_a, f"/api/v1/cases/{theirs.pk}/transfer/", {"queue": world.queue_a.pk})

    assert assign.status_code == 404 and transfer.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == CaseStatus.QUEUED and theirs.queue == world.queue_b and theirs.assignee is None


def test_a_supervisor_may_not_assign_to_an_agent_outside_their_teams(world):
    case = factories.queued_case(world.chan_a)

    response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/assign/", {"agent": world.ben.pk})

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"no agent {world.ben.pk}"}
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None


def test_admin_assigns_any_case_to_any_agent(world):
    case = factories.queued_case(world.chan_b)

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/assign/", {"agent": world.ana.pk})

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.assignee == world.ana


def test_assigning_to_an_agent_at_capacity_is_409_unless_forced(world):
    factories.held_case(world.chan_a, world.ana)  # api 1 of 1
    case = factories.queued_case(world.chan_a)
    path = f"/api/v1/cases/{case.pk}/assign/"

    refused = _post(world.boss_a, path, {"agent": world.ana.pk})

    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "not_allowed"
    assert body["detail"] == f"Ana may not take case {case.pk} now (capacity); force to override"
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None

    forced = _post(world.boss_a, path, {"agent": world.ana.pk, "force": True})

    assert forced.status_code == 200, forced.content
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == world.ana
    assert case.events.get(kind=CaseEvent.Kind.ASSIGNED).data["forced"] is True
    assert not case.events.filter(kind=CaseEvent.Kind.TRANSFERRED).exists()  # a forced assignment is no transfer
    assert agent_loads([world.ana.pk]) == {world.ana.pk: {"api": 2}}


def test_a_refused_assignment_leaves_the_pending_offer_alone(world):
    cleo = factories.agent("cleo", teams=list(world.ana.teams.all()), capacity={"api": 1})
    factories.held_case(world.chan_a, cleo)  # Cleo is full
    case = factories.queued_case(world.chan_a)
    offer = route_case(case_id=case.pk, now=timezone.now())
    assert offer.agent == world.ana

    response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/assign/", {"agent": cleo.pk})

    assert response.status_code == 409
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING
    case.refresh_from_db()
    assert case.status == CaseStatus.OFFERED and case.assignee is None


def test_reassigning_frees_the_previous_agent(world, django_capture_on_commit_callbacks):
    cleo = factories.agent("cleo", teams=list(world.ana.teams.all()), capacity={"api": 1})
    now = timezone.now()
    case = factories.queued_case(world.chan_a, at=now - timedelta(seconds=5))
    Agent.objects.filter(pk=cleo.pk).update(present_until=None)
    offer = route_case(case_id=case.pk, now=now)
    accept_offer(offer_id=offer.pk, agent=world.ana, now=now)
    waiting = factories.queued_case(world.chan_a)
    assert route_case(case_id=waiting.pk, now=now) is None  # Ana is full, Cleo away
    Agent.objects.filter(pk=cleo.pk).update(present_until=now + timedelta(minutes=10))

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/assign/", {"agent": cleo.pk})

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.assignee == cleo
    event = case.events.filter(kind=CaseEvent.Kind.ASSIGNED).order_by("pk").last()
    assert event.data["previous_agent_id"] == world.ana.pk
    assert Offer.objects.get(case=waiting, status=Offer.Status.PENDING).agent == world.ana


def test_assigning_an_offered_case_cancels_its_pending_offer(world):
    cleo = factories.agent("cleo", teams=list(world.ana.teams.all()), capacity={"api": 1})
    case = factories.queued_case(world.chan_a)
    offer = route_case(case_id=case.pk, now=timezone.now())
    assert offer.agent in (world.ana, cleo)
    other = cleo if offer.agent == world.ana else world.ana

    response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/assign/", {"agent": other.pk})

    assert response.status_code == 200, response.content
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == other
    assert _post(offer.agent.user, f"/api/v1/offers/{offer.pk}/accept/").status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"agent": "abc"}, 400), ({"agent": 0}, 400), ({"agent": 999_999}, 404)],
)
def test_bad_assign_input_changes_nothing(world, body, status):
    case = factories.queued_case(world.chan_a)

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/assign/", body)

    assert response.status_code == status, response.content
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None
    assert not case.events.filter(kind=CaseEvent.Kind.ASSIGNED).exists()


def test_assigning_a_resolved_case_is_a_conflict(world):
    case = factories.held_case(world.chan_a, world.ana, status=CaseStatus.RESOLVED, resolved_at=timezone.now())

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/assign/", {"agent": world.ana.pk})

    assert response.status_code == 409
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


# --- Transfer ----------------------------------------------------------------------------------------


def test_transfer_moves_the_case_and_requeues_it_with_the_new_queues_skills(world):
    QueueSkill.objects.create(queue=world.queue_a, skill=factories.skill("billing"))
    QueueSkill.objects.create(queue=world.queue_b, skill=factories.skill("returns"), min_proficiency=2)
    case = factories.queued_case(world.chan_a, skills={"billing": 1, "lang-es": 2})
    biller = factories.agent("biller", teams=list(world.ana.teams.all()), skills={"billing": 1, "lang-es": 2})
    offer = route_case(case_id=case.pk, now=timezone.now())
    assert offer.agent == biller

    response = _post(world.boss_a, f"/api/v1/cases/{case.pk}/transfer/", {"queue": world.queue_b.pk})

    assert response.status_code == 200, response.content
    assert response.json()["queue"] == "Queue B" and response.json()["status"] == "queued"
    case.refresh_from_db()
    assert case.queue == world.queue_b and case.status == CaseStatus.QUEUED and case.assignee is None
    assert dict(CaseSkill.objects.filter(case=case).values_list("skill__name", "min_proficiency")) == {
        "lang-es": 2,
        "returns": 2,
    }
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
    event = case.events.get(kind=CaseEvent.Kind.TRANSFERRED)
    assert event.actor == world.boss_a
    assert event.data == {"from_queue": "Queue A", "to_queue": "Queue B"}


def test_transferring_an_assigned_case_frees_its_agent(world):
    now = timezone.now()
    case = factories.queued_case(world.chan_a)
    offer = route_case(case_id=case.pk, now=now)
    accept_offer(offer_id=offer.pk, agent=world.ana, now=now)

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/transfer/", {"queue": world.queue_b.pk})

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None and case.queue == world.queue_b
    assert agent_loads([world.ana.pk]) == {}


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"queue": "abc"}, 400), ({"queue": 999_999}, 404)],
)
def test_bad_transfer_input_changes_nothing(world, body, status):
    case = factories.queued_case(world.chan_a)
    offer = route_case(case_id=case.pk, now=timezone.now())

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/transfer/", body)

    assert response.status_code == status, response.content
    case.refresh_from_db()
    assert case.queue == world.queue_a and case.status == CaseStatus.OFFERED
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING
    assert not case.events.filter(kind=CaseEvent.Kind.TRANSFERRED).exists()


def test_transfer_to_an_inactive_queue_is_404(world):
    closed = factories.queue("Closed", is_active=False)
    case = factories.queued_case(world.chan_a)

    response = _post(world.admin, f"/api/v1/cases/{case.pk}/transfer/", {"queue": closed.pk})

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"no active queue {closed.pk}"}
    case.refresh_from_db()
    assert case.queue == world.queue_a
