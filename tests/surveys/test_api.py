"""Surveys over the API and in the customer's history: admins see all,
supervisors their teams', agents their own cases'; filters by case, agent,
queue and answered; bad filters are a 400."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.models import Role, Team
from surveys.models import Survey
from tests import factories

pytestmark = pytest.mark.django_db


def _survey(agent, queue, *, score=None, comment="", customer=None):
    channel = factories.channel(kind="sms", default_queue=queue)
    now = timezone.now()
    case = factories.held_case(channel, agent, status="resolved", resolved_at=now, customer_obj=customer)
    return Survey.objects.create(
        case=case,
        customer=case.customer,
        agent=agent,
        queue=queue,
        channel_kind="sms",
        token=f"tok-{case.pk}",
        resolved_at=now,
        sent_at=now,
        answered_at=now if score else None,
        score=score,
        comment=comment,
        answered_via="link" if score else "",
    )


@pytest.fixture
def world(db):
    team_a, team_b = Team.objects.create(name="A"), Team.objects.create(name="B")
    ana = factories.agent("ana", teams=[team_a])
    ben = factories.agent("ben", teams=[team_a])
    bo = factories.agent("bo", teams=[team_b])
    queue_a, queue_b = factories.queue("QA", team=team_a), factories.queue("QB", team=team_b)
    supervisor = factories.user("sam", role=Role.SUPERVISOR)
    team_a.supervisors.add(supervisor)
    return {
        "ana": ana,
        "ben": ben,
        "supervisor": supervisor,
        "admin": factories.user("root", role=Role.ADMIN),
        "ana1": _survey(ana, queue_a, score=5, comment="great"),
        "ana2": _survey(ana, queue_a),
        "ben1": _survey(ben, queue_a, score=2),
        "bo1": _survey(bo, queue_b, score=3),
    }


def _ids(client, user, query: str = "") -> set[int]:
    client.force_login(user)
    response = client.get(f"/api/v1/surveys/{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_who_sees_which_surveys(client, world):
    w = world
    assert _ids(client, w["ana"].user) == {w["ana1"].pk, w["ana2"].pk}
    assert _ids(client, w["supervisor"]) == {w["ana1"].pk, w["ana2"].pk, w["ben1"].pk}
    assert _ids(client, w["admin"]) == {w["ana1"].pk, w["ana2"].pk, w["ben1"].pk, w["bo1"].pk}
    client.force_login(w["ana"].user)
    assert client.get(f"/api/v1/surveys/{w['ben1'].pk}/").status_code == 404
    assert client.get(f"/api/v1/surveys/{w['ana1'].pk}/").json()["score"] == 5


def test_filters(client, world):
    w = world
    admin = w["admin"]
    assert _ids(client, admin, f"?case={w['ana1'].case_id}") == {w["ana1"].pk}
    assert _ids(client, admin, f"?agent={w['ben'].pk}") == {w["ben1"].pk}
    assert _ids(client, admin, f"?queue={w['bo1'].queue_id}") == {w["bo1"].pk}
    assert _ids(client, admin, "?answered=false") == {w["ana2"].pk}
    assert _ids(client, admin, f"?answered=true&queue={w['ana1'].queue_id}") == {w["ana1"].pk, w["ben1"].pk}
    row = client.get(f"/api/v1/surveys/{w['ana1'].pk}/").json()
    assert row["agent_name"] == "Ana" and row["comment"] == "great" and row["answered_via"] == "link"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?case=x", "'case' must be an id (digits)"),
        ("?agent=%C2%B2", "'agent' must be an id (digits)"),
        ("?queue=-1", "'queue' must be an id (digits)"),
        ("?answered=yes", "'answered' must be true or false"),
    ],
)
def test_bad_filters_are_a_400(client, world, query, detail):
    client.force_login(world["admin"])

    response = client.get(f"/api/v1/surveys/{query}")

    assert response.status_code == 400
    assert response.json()["detail"] == detail


def test_anonymous_and_users_without_a_role(client, world):
    assert client.get("/api/v1/surveys/").status_code == 401
    client.force_login(factories.user("nobody", role="visitor"))
    assert client.get("/api/v1/surveys/").json()["results"] == []


def test_the_customer_history_shows_the_answers(client, world):
    w = world
    customer = w["ana1"].customer
    _survey(w["ben"], w["ben1"].queue, score=1, comment="too slow", customer=customer)
    client.force_login(w["ana"].user)

    response = client.get(f"/api/v1/customers/{customer.pk}/history/")

    assert response.status_code == 200
    surveys = response.json()["surveys"]
    assert [(s["score"], s["comment"], s["agent"], s["case"]) for s in surveys] == [
        (1, "too slow", "Ben", Survey.objects.get(comment="too slow").case_id),
        (5, "great", "Ana", w["ana1"].case_id),
    ]
    assert all(s["answered_at"] for s in surveys)


def test_unanswered_surveys_are_not_in_the_history(client, world):
    client.force_login(world["admin"])

    response = client.get(f"/api/v1/customers/{world['ana2'].customer_id}/history/")

    assert response.json()["surveys"] == []
