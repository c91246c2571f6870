"""The configuration API: agents (skills, capacity per channel kind, teams),
teams, skills, presence statuses, queues (required skills, overflow steps),
routing rules, routing settings and decline reasons. Bad input gets a 400
that says what is wrong and changes nothing; changes reach the router's kept
state and the configuration audit; an agent sets their own status."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from agents.models import Agent, Role, Team
from audit.models import ConfigChange
from routing.models import OverflowStep, Queue, RoutingRule, RoutingSettings
from routing.queue_settings import queues
from tests import factories

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


@pytest.fixture
def admin():
    return _client(factories.user("root", role=Role.ADMIN))


def test_an_admin_creates_an_agent_with_skills_capacity_and_teams(admin):
    team = Team.objects.create(name="Support")
    billing = factories.skill("billing")
    body = {
        "username": "nora",
        "display_name": "Nora",
        "teams": [team.pk],
        "capacity_total": 4,
        "capacities": {"web_chat": 2, "email": 3},
        "skills": [{"skill": billing.pk, "proficiency": 4}],
    }
    response = admin.post("/api/v1/agents/", body, "application/json")
    assert response.status_code == 201, response.content
    made = response.json()
    assert (made["username"], made["capacities"], made["skills"]) == (
        "nora",
        {"web_chat": 2, "email": 3},
        [{"skill": billing.pk, "proficiency": 4}],
    )
    agent = Agent.objects.get(user__username="nora")
    assert list(agent.teams.all()) == [team] and agent.capacity_total == 4
    assert not agent.user.has_usable_password()


def test_changing_an_agents_capacity_and_skills_replaces_them(admin):
    agent = factories.agent("ana", skills={"billing": 2}, capacity={"web_chat": 2, "email": 3})
    sales = factories.skill("sales")
    response = admin.patch(
        f"/api/v1/agents/{agent.pk}/",
        {"capacities": {"web_chat": 4}, "skills": [{"skill": sales.pk, "proficiency": 5}]},
        "application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["capacities"] == {"web_chat": 4}
    assert [(s.skill.name, s.proficiency) for s in agent.skills.all()] == [("sales", 5)]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"capacities": {"pigeon": 1}}, "capacities", "unknown channel kind(s): pigeon"),
        ({"capacities": {"web_chat": 0}}, "capacities", "Ensure this value is greater than or equal to 1."),
        ({"skills": [{"skill": 999999, "proficiency": 3}]}, "skills", 'Invalid pk "999999" - object does not exist.'),
        ({"capacity_total": 0}, "capacity_total", "Ensure this value is greater than or equal to 1."),
        ({"username": "someone-else"}, "username", "a username is not changed here (the admin's user page does)"),
    ],
)
def test_bad_agent_input_is_a_400_that_changes_nothing(admin, body, field, message):
    agent = factories.agent("ana", capacity={"web_chat": 2})
    response = admin.patch(f"/api/v1/agents/{agent.pk}/", body, "application/json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
    agent.refresh_from_db()
    assert agent.capacity_total == 5 and list(agent.capacities.values_list("units", flat=True)) == [2]


def test_skill_rows_naming_one_skill_twice_are_refused(admin):
    billing = factories.skill("billing")
    rows = [{"skill": billing.pk, "proficiency": 2}, {"skill": billing.pk, "proficiency": 3}]
    response = admin.post("/api/v1/agents/", {"username": "x", "skills": rows}, "application/json")
    assert response.status_code == 400 and response.json()["skills"] == ["each skill once"]
    assert not Agent.objects.exists()


def test_an_agent_sets_their_own_status_and_nobody_elses(admin):
    away = factories.status("Away", kinds=[])
    ana, ben = factories.agent("ana"), factories.agent("ben")
    me = _client(ana.user)
    response = me.post("/api/v1/agents/me/status/", {"status_id": away.pk}, "application/json")
    assert response.status_code == 200 and response.json()["status"] == away.pk
    ana.refresh_from_db()
    assert ana.status == away
    assert me.patch(f"/api/v1/agents/{ben.pk}/", {"status": away.pk}, "application/json").status_code == 403
    assert me.post("/api/v1/agents/me/status/", {"status_id": 999999}, "application/json").json() == {
        "error": "invalid",
        "detail": "no presence status 999999",
    }


def test_queue_with_skills_and_overflow_steps(admin):
    billing = factories.skill("billing")
    general = factories.queue("General")
    team = Team.objects.create(name="Support")
    body = {
        "name": "Billing",
        "priority": 2,
        "team": team.pk,
        "channel_kinds": ["web_chat", "email"],
        "required_skills": [{"skill": billing.pk, "min_proficiency": 3}],
        "overflow_steps": [
            {"after_seconds": 60, "action": "drop_optional_skills"},
            {"after_seconds": 300, "action": "add_queue", "target_queue": general.pk},
        ],
    }
    response = admin.post("/api/v1/queues/", body, "application/json")
    assert response.status_code == 201, response.content
    queue = Queue.objects.get(name="Billing")
    assert queue.required_skills.get().min_proficiency == 3
    assert list(queue.overflow_steps.values_list("action", flat=True)) == ["drop_optional_skills", "add_queue"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"priority": 9}, "priority", "Ensure this value is less than or equal to 5."),
        ({"offer_timeout_seconds": 2}, "offer_timeout_seconds", "Ensure this value is greater than or equal to 5."),
        ({"channel_kinds": ["pigeon"]}, "channel_kinds", '"pigeon" is not a valid choice.'),
        ({"overflow_steps": [{"after_seconds": 5, "action": "add_queue"}]}, "overflow_steps", "needs the queue to add"),
        ({"overflow_steps": [{"after_seconds": 5, "action": "add_team"}]}, "overflow_steps", "needs the team to add"),
    ],
)
def test_bad_queue_input_is_a_400_that_changes_nothing(admin, body, field, message):
    queue = factories.queue("Sales", priority=3)
    response = admin.patch(f"/api/v1/queues/{queue.pk}/", body, "application/json")
    assert response.status_code == 400
    assert message in str(response.json()[field]), response.json()
    queue.refresh_from_db()
    assert (queue.priority, queue.offer_timeout_seconds, queue.channel_kinds) == (3, 60, [])
    assert not OverflowStep.objects.exists()


def test_a_queue_does_not_overflow_into_itself(admin):
    queue = factories.queue("Sales")
    steps = [{"after_seconds": 5, "action": "add_queue", "target_queue": queue.pk}]
    response = admin.patch(f"/api/v1/queues/{queue.pk}/", {"overflow_steps": steps}, "application/json")
    assert response.status_code == 400 and response.json()["overflow_steps"] == [
        "a queue does not overflow into itself"
    ]


def test_a_queue_in_use_is_not_deleted(admin):
    queue = factories.queue("Sales")
    RoutingRule.objects.create(name="Sales words", queue=queue, match_keywords="buy")
    response = admin.delete(f"/api/v1/queues/{queue.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "queue 'Sales' is used by routing rules (Sales words); deactivate it or change those first"
    )
    assert Queue.objects.filter(pk=queue.pk).exists()


def test_queue_changes_reach_the_routers_kept_state(admin, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "ROUTER_STATE_MS": 60_000}
    queue = factories.queue("Sales", priority=3)
    assert queues()[queue.pk].priority == 3  # now kept for a minute
    billing = factories.skill("billing")
    response = admin.patch(
        f"/api/v1/queues/{queue.pk}/",
        {"priority": 1, "required_skills": [{"skill": billing.pk, "min_proficiency": 2}]},
        "application/json",
    )
    assert response.status_code == 200
    kept = queues()[queue.pk]
    assert kept.priority == 1


def test_a_routing_rule_that_can_never_match_is_refused(admin):
    queue = factories.queue("Sales")
    channel = factories.channel("shop", kind="email")
    body = {"name": "Chats", "queue": queue.pk, "match_channel": channel.pk, "match_channel_kinds": ["web_chat"]}
    response = admin.post("/api/v1/routing-rules/", body, "application/json")
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [
        "it can never match: channel 'shop' is email, not one of the channel kinds web_chat"
    ]
    RoutingRule.objects.create(name="Everything", queue=queue, order=1)
    response = admin.post("/api/v1/routing-rules/", {"name": "Late", "queue": queue.pk, "order": 5}, "application/json")
    assert response.status_code == 400
    assert "rule 'Everything' (order 1) comes first and matches everything" in response.json()["non_field_errors"][0]
    assert RoutingRule.objects.count() == 1


def test_routing_settings_are_read_by_supervisors_and_changed_by_admins(admin):
    away = factories.status("Away", kinds=[])
    response = admin.patch(
        "/api/v1/routing-settings/", {"aging_seconds": 120, "away_status": away.pk}, "application/json"
    )
    assert response.status_code == 200, response.content
    assert (RoutingSettings.current().aging_seconds, RoutingSettings.current().away_status) == (120, away)
    supervisor = _client(factories.user("sam", role=Role.SUPERVISOR))
    assert supervisor.get("/api/v1/routing-settings/").json()["aging_seconds"] == 120
    assert supervisor.patch("/api/v1/routing-settings/", {"aging_seconds": 1}, "application/json").status_code == 403
    assert admin.patch("/api/v1/routing-settings/", {"aging_seconds": 0}, "application/json").status_code == 400


def test_configuration_changes_are_audited_with_memberships(admin):
    team = Team.objects.create(name="Support")
    agent = factories.agent("ana")
    response = admin.patch(f"/api/v1/teams/{team.pk}/", {"members": [agent.pk]}, "application/json")
    assert response.status_code == 200, response.content
    change = ConfigChange.objects.filter(model="agents.team", object_id=str(team.pk), action="updated").get()
    assert change.changes == {"agents": [[], [agent.pk]]}
    assert change.actor_name == "root"
    admin.patch(f"/api/v1/agents/{agent.pk}/", {"capacity_total": 9}, "application/json")
    update = ConfigChange.objects.filter(model="agents.agent", object_id=str(agent.pk), action="updated").get()
    assert update.changes == {"capacity_total": [5, 9]}


def test_presence_heartbeats_are_not_recorded_as_configuration_changes():
    from django.utils import timezone

    from agents import services

    agent = factories.agent("ana", present=False)
    before = ConfigChange.objects.count()
    services.touch_presence(agent_id=agent.pk, now=timezone.now())
    services.set_status(agent_id=agent.pk, status_id=factories.status("Away", kinds=[]).pk, now=timezone.now())
    assert ConfigChange.objects.count() == before + 1  # only the new status "Away" itself


def test_a_team_serving_queues_is_not_deleted(admin):
    team = Team.objects.create(name="Support")
    factories.queue("Sales", team=team)
    response = admin.delete(f"/api/v1/teams/{team.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"] == "team 'Support' serves queues (Sales); change their team first"
    assert Team.objects.filter(pk=team.pk).exists()
