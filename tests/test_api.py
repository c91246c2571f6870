"""The REST API under /api/v1/: described by OpenAPI, authenticated (session
or token), and agents see only what their queues allow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Agent, Role, Team
from cases.models import Case, CaseStatus, Customer, Message
from routing.batch import route_case
from routing.models import Offer, Queue
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass
class World:
    ana: Agent  # team A
    ben: Agent  # team B
    cleo: Agent  # team A, offline
    queue_a: Queue
    queue_b: Queue
    direct: Queue  # no team; Ana is a direct member
    channel: object


def _case(world: World, *, queue: Queue | None, status: str = CaseStatus.QUEUED, assignee: Agent | None = None, **f):
    now = timezone.now()
    case = Case.objects.create(
        customer=Customer.objects.create(display_name="María"),
        channel=world.channel,
        channel_kind=world.channel.kind,
        thread_key=f"t-{Case.objects.count() + 1}",
        queue=queue,
        status=status,
        assignee=assignee,
        created_at=now,
        route_rank=now if status == CaseStatus.QUEUED else None,
        queued_at=now,
        **f,
    )
    Message.objects.create(
        case=case,
        direction=Message.Direction.INBOUND,
        channel=world.channel,
        channel_kind=world.channel.kind,
        text="Hello",
        html="<p>Hello</p>",
        created_at=now,
    )
    return case


@pytest.fixture
def world() -> World:
    team_a = Team.objects.create(name="Team A")
    team_b = Team.objects.create(name="Team B")
    queue_a = factories.queue("Queue A", team=team_a)
    queue_b = factories.queue("Queue B", team=team_b)
    direct = factories.queue("Direct")
    ana = factories.agent("ana", teams=[team_a])
    direct.agents.add(ana)
    return World(
        ana=ana,
        ben=factories.agent("ben", teams=[team_b]),
        cleo=factories.agent("cleo", teams=[team_a], present=False),
        queue_a=queue_a,
        queue_b=queue_b,
        direct=direct,
        channel=factories.channel("web", default_queue=queue_a),
    )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- Schema and authentication -------------------------------------------------------


def test_schema_is_an_openapi_document_of_the_api(client):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Switchboard API"
    for path in (
        "/api/v1/cases/",
        "/api/v1/cases/{id}/",
        "/api/v1/cases/{id}/reply/",
        "/api/v1/offers/{id}/accept/",
        "/api/v1/offers/{id}/decline/",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/cases/{id}/reply/"]


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/api/v1/offers/"])
def test_anonymous_requests_are_refused(client, path):
    response = client.get(path)

    assert response.status_code in (401, 403)


def test_anonymous_reply_is_refused_and_stores_nothing(client, world):
    case = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = client.post(f"/api/v1/cases/{case.pk}/reply/", {"text": "hi"}, content_type="application/json")

    assert response.status_code in (401, 403)
    assert case.messages.count() == 1


def test_token_authentication_works(world):
    token = Token.objects.create(user=world.ana.user)
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = Client().get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert _ids(response) == {mine.pk}


def test_token_reply_needs_no_csrf_token(world):
    token = Token.objects.create(user=world.ana.user)
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = Client(enforce_csrf_checks=True).post(
        f"/api/v1/cases/{mine.pk}/reply/",
        {"text": "On it"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )

    assert response.status_code == 201, response.content


def test_wrong_token_is_refused(world):
    Token.objects.create(user=world.ana.user)

    response = Client().get("/api/v1/cases/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code in (401, 403)
    assert "token" in response.json()["detail"].lower()


def test_session_reply_without_csrf_token_is_refused(world):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.ana.user)

    response = client.post(f"/api/v1/cases/{mine.pk}/reply/", {"text": "hi"}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert mine.messages.count() == 1


# --- What an agent sees ------------------------------------------------------------------


def test_agent_sees_its_cases_and_those_waiting_in_its_queues(world):
    mine = _case(world, queue=world.queue_b, status=CaseStatus.ASSIGNED, assignee=world.ana)
    waiting_in_team_queue = _case(world, queue=world.queue_a)
    offered_in_team_queue = _case(world, queue=world.queue_a, status=CaseStatus.OFFERED)
    waiting_in_direct_queue = _case(world, queue=world.direct)
    resolved_by_me = _case(
        world, queue=world.queue_a, status=CaseStatus.RESOLVED, assignee=world.ana, resolved_at=timezone.now()
    )
    _case(world, queue=world.queue_b)  # another team's queue
    _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.cleo)  # a teammate's
    _case(world, queue=world.queue_b, status=CaseStatus.ASSIGNED, assignee=world.ben)
    _case(world, queue=world.queue_a, status=CaseStatus.RESOLVED, resolved_at=timezone.now())

    response = _client(world.ana.user).get("/api/v1/cases/")

    assert _ids(response) == {
        mine.pk,
        waiting_in_team_queue.pk,
        offered_in_team_queue.pk,
        waiting_in_direct_queue.pk,
        resolved_by_me.pk,
    }


def test_agent_list_filters_by_status(world):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)
    _case(world, queue=world.queue_a)

    response = _client(world.ana.user).get("/api/v1/cases/?status=assigned")

    assert _ids(response) == {mine.pk}


def test_another_teams_case_is_not_found(world):
    theirs = _case(world, queue=world.queue_b)
    bens = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ben)
    client = _client(world.ana.user)

    for case in (theirs, bens):
        response = client.get(f"/api/v1/cases/{case.pk}/")
        assert response.status_code == 404


def test_case_detail_has_its_messages(world):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = _client(world.ana.user).get(f"/api/v1/cases/{mine.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == mine.pk
    assert body["status"] == "assigned"
    assert body["assignee_id"] == world.ana.pk
    assert body["queue"] == "Queue A"
    assert body["customer"] == "María"
    assert [(m["direction"], m["text"], m["html"]) for m in body["messages"]] == [("in", "Hello", "<p>Hello</p>")]


def test_user_who_is_no_agent_sees_no_cases(world):
    _case(world, queue=world.queue_a)
    nobody = User.objects.create_user(username="visitor", password="pw-for-tests")

    assert _ids(_client(nobody).get("/api/v1/cases/")) == set()


def test_supervisor_sees_the_cases_of_their_teams(world):
    team_a = Team.objects.get(name="Team A")
    boss = factories.user("boss", role=Role.SUPERVISOR)
    team_a.supervisors.add(boss)
    in_queue_a = _case(world, queue=world.queue_a)
    held_by_team_a = _case(world, queue=world.queue_b, status=CaseStatus.ASSIGNED, assignee=world.ana)
    _case(world, queue=world.queue_b)

    assert _ids(_client(boss).get("/api/v1/cases/")) == {in_queue_a.pk, held_by_team_a.pk}


def test_supervisor_who_works_cases_sees_and_answers_the_ones_assigned_to_them(world):
    sam = factories.agent("sam")
    sam.user.groups.add(Group.objects.get_or_create(name=Role.SUPERVISOR)[0])
    Team.objects.get(name="Team B").supervisors.add(sam.user)
    own = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=sam)
    in_queue_b = _case(world, queue=world.queue_b)
    _case(world, queue=world.queue_a)
    client = _client(sam.user)

    assert _ids(client.get("/api/v1/cases/")) == {own.pk, in_queue_b.pk}
    response = client.post(f"/api/v1/cases/{own.pk}/reply/", {"text": "On it"}, content_type="application/json")
    assert response.status_code == 201, response.content


def test_admin_sees_every_case(world):
    admin = factories.user("root", role=Role.ADMIN)
    cases = {_case(world, queue=world.queue_a).pk, _case(world, queue=world.queue_b).pk, _case(world, queue=None).pk}

    assert _ids(_client(admin).get("/api/v1/cases/")) == cases


# --- Replying ----------------------------------------------------------------------------


def test_reply_on_my_case_is_recorded_and_sent(world, django_capture_on_commit_callbacks):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)
    client = _client(world.ana.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/cases/{mine.pk}/reply/", {"text": "  Your parcel ships today.  "}, content_type="application/json"
        )

    assert response.status_code == 201, response.content
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert response.json()["id"] == reply.pk
    assert response.json()["author"] == "Ana"
    assert reply.case_id == mine.pk
    assert reply.text == "Your parcel ships today."
    assert reply.author_agent_id == world.ana.pk
    assert reply.channel_id == world.channel.pk
    assert reply.delivery_status == Message.Delivery.SENT
    mine.refresh_from_db()
    assert mine.first_response_at is not None


def test_reply_on_someone_elses_case_is_refused_and_stores_nothing(world):
    bens = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ben)
    waiting = _case(world, queue=world.queue_a)  # visible to Ana, but not hers
    client = _client(world.ana.user)

    hidden = client.post(f"/api/v1/cases/{bens.pk}/reply/", {"text": "hi"}, content_type="application/json")
    not_mine = client.post(f"/api/v1/cases/{waiting.pk}/reply/", {"text": "hi"}, content_type="application/json")

    assert hidden.status_code == 404
    assert not_mine.status_code == 403
    assert "not assigned to you" in not_mine.json()["detail"]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    waiting.refresh_from_db()
    assert waiting.first_response_at is None


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {}, {"text": None}])
def test_empty_reply_is_400_and_stores_nothing(world, body):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = _client(world.ana.user).post(f"/api/v1/cases/{mine.pk}/reply/", body, content_type="application/json")

    assert response.status_code == 400
    assert "text" in response.json()
    assert mine.messages.count() == 1


def test_reply_on_a_resolved_case_is_a_conflict(world):
    resolved = _case(
        world, queue=world.queue_a, status=CaseStatus.RESOLVED, assignee=world.ana, resolved_at=timezone.now()
    )

    response = _client(world.ana.user).post(
        f"/api/v1/cases/{resolved.pk}/reply/", {"text": "hi"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["error"] == "case_closed"
    assert resolved.messages.count() == 1


def test_resolve_my_case_through_the_api(world):
    mine = _case(world, queue=world.queue_a, status=CaseStatus.ASSIGNED, assignee=world.ana)

    response = _client(world.ana.user).post(f"/api/v1/cases/{mine.pk}/resolve/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    mine.refresh_from_db()
    assert mine.status == CaseStatus.RESOLVED and mine.resolved_at is not None


# --- Offers ----------------------------------------------------------------------------------


@pytest.fixture
def offer(world) -> Offer:
    """A case waiting in Queue A, offered to Ana (Cleo is offline)."""
    case = _case(world, queue=world.queue_a)
    offer = route_case(case_id=case.pk, now=timezone.now())
    assert isinstance(offer, Offer) and offer.agent_id == world.ana.pk
    return offer


def test_my_pending_offers_are_listed(world, offer):
    response = _client(world.ana.user).get("/api/v1/offers/?status=pending")

    assert response.status_code == 200
    rows = response.json()["results"]  # a cursor page
    assert [(r["id"], r["case_id"], r["status"]) for r in rows] == [(offer.pk, offer.case_id, "pending")]
    assert _client(world.ben.user).get("/api/v1/offers/").json()["results"] == []


def test_accepting_an_offer_assigns_the_case_and_a_second_accept_is_a_conflict(world, offer):
    client = _client(world.ana.user)

    first = client.post(f"/api/v1/offers/{offer.pk}/accept/")
    second = client.post(f"/api/v1/offers/{offer.pk}/accept/")

    assert first.status_code == 200, first.content
    assert first.json()["status"] == "accepted"
    assert second.status_code == 409
    assert second.json() == {"error": "offer_closed", "detail": f"offer {offer.pk} is accepted"}
    case = Case.objects.get(pk=offer.case_id)
    assert case.status == CaseStatus.ASSIGNED
    assert case.assignee_id == world.ana.pk


def test_declining_an_offer_records_the_reason_and_the_case_waits_again(world, offer):
    response = _client(world.ana.user).post(
        f"/api/v1/offers/{offer.pk}/decline/", {"reason": "Wrong language"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "declined"
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert offer.decline_reason == "Wrong language"
    assert Case.objects.get(pk=offer.case_id).status == CaseStatus.QUEUED

    again = _client(world.ana.user).post(f"/api/v1/offers/{offer.pk}/accept/")
    assert again.status_code == 409


def test_someone_elses_offer_is_not_found(world, offer):
    client = _client(world.ben.user)

    assert client.post(f"/api/v1/offers/{offer.pk}/accept/").status_code == 404
    assert client.post(f"/api/v1/offers/{offer.pk}/decline/").status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING


def test_accepting_an_expired_offer_is_a_conflict(world, offer):
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _client(world.ana.user).post(f"/api/v1/offers/{offer.pk}/accept/")

    assert response.status_code == 409
    assert "timed out" in response.json()["detail"]
    case = Case.objects.get(pk=offer.case_id)
    assert case.assignee_id is None
    assert case.status == CaseStatus.QUEUED  # timed out at once and waiting again
    offer.refresh_from_db()
    assert offer.status == Offer.Status.TIMED_OUT
