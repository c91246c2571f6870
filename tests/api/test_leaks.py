"""Writes that name another team's object in their body (not in the URL, so
the matrix cannot see them) are refused and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Role, Team
from cases.models import Identity
from sla.models import Promise
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    team_a, team_b = Team.objects.create(name="Team A"), Team.objects.create(name="Team B")
    queue_a, queue_b = factories.queue("A", team=team_a), factories.queue("B", team=team_b)
    ana, ben = factories.agent("ana", teams=[team_a]), factories.agent("ben", teams=[team_b])
    channel = factories.channel("web", default_queue=queue_a)
    case_a = factories.held_case(channel, ana, queue=queue_a)
    case_b = factories.held_case(channel, ben, queue=queue_b)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    team_a.supervisors.add(sam)
    return {"ana": ana, "ben": ben, "sam": sam, "case_a": case_a, "case_b": case_b}


def _as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_agent_cannot_take_the_identity_of_another_teams_customer(world):
    theirs = Identity.objects.create(customer=world["case_b"].customer, kind="email", address="bea@example.com")
    response = _as(world["ana"].user).post(
        f"/api/v1/customers/{world['case_a'].customer_id}/identities/",
        {"kind": "email", "address": "Bea@Example.com"},
        format="json",
    )
    assert response.status_code == 403, response.content
    theirs.refresh_from_db()
    assert theirs.customer_id == world["case_b"].customer_id


def test_agent_may_still_link_a_new_identity(world):
    response = _as(world["ana"].user).post(
        f"/api/v1/customers/{world['case_a'].customer_id}/identities/",
        {"kind": "email", "address": "new@example.com"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_agent_cannot_merge_another_teams_customer_into_theirs(world):
    response = _as(world["ana"].user).post(
        f"/api/v1/customers/{world['case_a'].customer_id}/merge/",
        {"source": world["case_b"].customer_id},
        format="json",
    )
    assert response.status_code == 404
    world["case_b"].refresh_from_db()
    assert world["case_b"].customer.merged_into_id is None


def test_agent_cannot_make_a_promise_on_another_teams_case(world):
    response = _as(world["ana"].user).post(
        "/api/v1/sla/promises/",
        {"case": world["case_b"].pk, "due_at": (timezone.now() + timedelta(days=1)).isoformat(), "channel_kind": "api"},
        format="json",
    )
    assert response.status_code == 404
    assert not Promise.objects.exists()


def test_supervisor_cannot_assign_to_an_agent_of_another_team(world):
    response = _as(world["sam"]).post(
        f"/api/v1/cases/{world['case_a'].pk}/assign/", {"agent": world["ben"].pk}, format="json"
    )
    assert response.status_code == 404
    world["case_a"].refresh_from_db()
    assert world["case_a"].assignee_id == world["ana"].pk
