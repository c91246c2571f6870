"""Routing configuration has one write path (``routing.configuration``): a
queue, a routing rule or the routing settings saved over the API, in the
admin or by ``import_config`` — and a queue's priority changed from the
supervisors' dashboard — go through one service call each, which makes this
process's router forget what it kept (on commit) and leaves every row in the
audit."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from agents.models import Role, Team
from audit.models import ConfigChange
from configio.load import apply_config
from routing import configuration
from routing.models import Queue, QueueSkill, RoutingRule, RoutingRuleSkill, RoutingSettings
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_skill():
    return factories.skill("billing")


@pytest.fixture
def api(client):
    root = factories.user("root", role=Role.ADMIN)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=root).key}"
    return client


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture
def spied(django_capture_on_commit_callbacks):
    """Count the calls of a configuration service, and how often this
    process's router forgot its kept state once the writes committed."""

    class Spy:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self):
            self.forget = mock.patch.object(
                configuration, "forget_kept_state", wraps=configuration.forget_kept_state
            ).start()
            self.service = mock.patch.object(configuration, self.name, wraps=getattr(configuration, self.name)).start()
            self.commit = django_capture_on_commit_callbacks(execute=True)
            self.commit.__enter__()
            return self

        def __exit__(self, *exc) -> None:
            self.commit.__exit__(*exc)
            mock.patch.stopall()

    return Spy


# --- Queues ---------------------------------------------------------------------------------------


def _queue_by_api(request, skill) -> None:
    body = {"name": "Billing", "priority": 2, "required_skills": [{"skill": skill.pk, "min_proficiency": 2}]}
    response = request.getfixturevalue("api").post("/api/v1/queues/", body, content_type="application/json")
    assert response.status_code == 201, response.content


def _queue_by_admin(request, skill) -> None:
    form = {
        "name": "Billing",
        "channel_kinds": "[]",
        "priority": "2",
        "offer_timeout_seconds": "60",
        "auto_accept_channel_kinds": "[]",
        "agent_selection": "most_available",
        "case_units": "1",
        "continuity_minutes": "0",
        "first_reply_minutes": "0",
        "first_reply_action": "escalate",
        "wrap_up_seconds": "0",
        "is_active": "on",
        "required_skills-TOTAL_FORMS": "1",
        "required_skills-INITIAL_FORMS": "0",
        "required_skills-0-skill": str(skill.pk),
        "required_skills-0-min_proficiency": "2",
        "overflow_steps-TOTAL_FORMS": "0",
        "overflow_steps-INITIAL_FORMS": "0",
    }
    response = request.getfixturevalue("boss").post("/admin/routing/queue/add/", form)
    assert response.status_code == 302, response.content


def _queue_by_import(request, skill) -> None:
    row = {"name": "Billing", "priority": 2, "required_skills": [{"skill": skill.name, "min_proficiency": 2}]}
    apply_config({"queues": [row]}, source="test.yaml")


QUEUE_ENTRY_POINTS = {"api": _queue_by_api, "admin": _queue_by_admin, "import": _queue_by_import}


@pytest.mark.parametrize("how", QUEUE_ENTRY_POINTS)
def test_a_queue_saved_anywhere_goes_through_the_service_and_the_router_forgets(how, request, billing_skill, spied):
    with spied("save_queue") as spy:
        QUEUE_ENTRY_POINTS[how](request, billing_skill)
    queue = Queue.objects.get(name="Billing")
    assert spy.service.call_count == (2 if how == "import" else 1)  # the import: the queue, then its rows
    assert spy.forget.call_count >= 1
    need = QueueSkill.objects.get(queue=queue)
    assert (need.skill, need.min_proficiency) == (billing_skill, 2)
    assert ConfigChange.objects.filter(model="routing.queueskill", object_id=str(need.pk), action="created").exists()


def test_a_queue_edited_in_the_admin_keeps_its_unchanged_skill_rows(boss, billing_skill):
    queue = factories.queue("Billing")
    need = QueueSkill.objects.create(queue=queue, skill=billing_skill, min_proficiency=2)
    spanish = factories.skill("lang-es", language_code="es")
    form = {
        "name": "Billing",
        "channel_kinds": "[]",
        "priority": "1",
        "offer_timeout_seconds": "60",
        "auto_accept_channel_kinds": "[]",
        "agent_selection": "most_available",
        "case_units": "1",
        "continuity_minutes": "0",
        "first_reply_minutes": "0",
        "first_reply_action": "escalate",
        "wrap_up_seconds": "0",
        "is_active": "on",
        "required_skills-TOTAL_FORMS": "2",
        "required_skills-INITIAL_FORMS": "1",
        "required_skills-0-id": str(need.pk),
        "required_skills-0-queue": str(queue.pk),
        "required_skills-0-skill": str(billing_skill.pk),
        "required_skills-0-min_proficiency": "3",
        "required_skills-1-skill": str(spanish.pk),
        "required_skills-1-min_proficiency": "1",
        "overflow_steps-TOTAL_FORMS": "0",
        "overflow_steps-INITIAL_FORMS": "0",
    }
    response = boss.post(f"/admin/routing/queue/{queue.pk}/change/", form)
    assert response.status_code == 302, response.content
    rows = {row.skill.name: (row.pk, row.min_proficiency) for row in QueueSkill.objects.filter(queue=queue)}
    assert rows["billing"] == (need.pk, 3)  # changed in place
    assert rows["lang-es"][1] == 1
    change = ConfigChange.objects.get(model="routing.queueskill", object_id=str(need.pk), action="updated")
    assert change.changes == {"min_proficiency": [2, 3]}


def test_queues_deactivated_in_bulk_in_the_admin_go_through_the_service(boss, spied):
    sales, support = factories.queue("Sales"), factories.queue("Support")
    with spied("set_queues_active") as spy:
        response = boss.post(
            "/admin/routing/queue/",
            {"action": "set_is_active_false", "_selected_action": [str(sales.pk), str(support.pk)]},
        )
    assert response.status_code == 302
    assert spy.service.call_count == 1 and spy.forget.call_count == 1
    assert not Queue.objects.filter(is_active=True).exists()


def test_a_queue_deleted_in_the_admin_goes_through_the_service(boss, spied):
    queue = factories.queue("Old")
    with spied("delete_queue") as spy:
        response = boss.post(f"/admin/routing/queue/{queue.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert spy.service.call_count == 1 and spy.forget.call_count == 1
    assert not Queue.objects.filter(pk=queue.pk).exists()


def test_a_supervisors_queue_priority_goes_through_the_service(spied):
    team = Team.objects.create(name="A")
    queue = factories.queue("Billing", team=team, priority=3)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    team.supervisors.add(sam)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=sam).key}")
    with spied("set_queue_priority") as spy:
        response = client.post(
            f"/api/v1/supervisor/queues/{queue.pk}/priority/", {"priority": 1}, content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert spy.service.call_count == 1 and spy.forget.call_count >= 1
    queue.refresh_from_db()
    assert queue.priority == 1


# --- Routing rules -------------------------------------------------------------------------------


def _rule_by_api(request, skill, queue) -> None:
    body = {"name": "Invoices", "queue": queue.pk, "match_keywords": "invoice", "skills": [{"skill": skill.pk}]}
    response = request.getfixturevalue("api").post("/api/v1/routing-rules/", body, content_type="application/json")
    assert response.status_code == 201, response.content


def _rule_by_admin(request, skill, queue) -> None:
    form = {
        "name": "Invoices",
        "order": "100",
        "is_active": "on",
        "match_channel_kinds": "[]",
        "match_keywords": "invoice",
        "match_language": "",
        "match_customer_tier": "",
        "queue": str(queue.pk),
        "skills-TOTAL_FORMS": "1",
        "skills-INITIAL_FORMS": "0",
        "skills-0-skill": str(skill.pk),
        "skills-0-min_proficiency": "1",
    }
    response = request.getfixturevalue("boss").post("/admin/routing/routingrule/add/", form)
    assert response.status_code == 302, response.content


def _rule_by_import(request, skill, queue) -> None:
    row = {"name": "Invoices", "queue": queue.name, "match_keywords": "invoice", "skills": [{"skill": skill.name}]}
    apply_config({"routing_rules": [row]}, source="test.yaml")


RULE_ENTRY_POINTS = {"api": _rule_by_api, "admin": _rule_by_admin, "import": _rule_by_import}


@pytest.mark.parametrize("how", RULE_ENTRY_POINTS)
def test_a_rule_saved_anywhere_goes_through_the_service_with_its_skills(how, request, billing_skill, spied):
    queue = factories.queue("Billing")
    with spied("save_rule") as spy:
        RULE_ENTRY_POINTS[how](request, billing_skill, queue)
    rule = RoutingRule.objects.get(name="Invoices")
    assert spy.service.call_count == (2 if how == "import" else 1)  # the import: the rule, then its rows
    need = RoutingRuleSkill.objects.get(rule=rule)
    assert need.skill == billing_skill
    assert ConfigChange.objects.filter(model="routing.routingruleskill", object_id=str(need.pk)).exists()


def test_a_rule_with_one_skill_twice_in_the_file_is_refused_with_its_path(billing_skill):
    queue = factories.queue("Billing")
    row = {"name": "Invoices", "queue": queue.name, "skills": [{"skill": "billing"}, {"skill": "billing"}]}
    from configio.load import ConfigError

    with pytest.raises(ConfigError, match=r"^test.yaml:routing_rules\[0\]\.skills\[1\]: .*already exists"):
        apply_config({"routing_rules": [row]}, source="test.yaml")
    assert not RoutingRule.objects.exists()


# --- Routing settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["api", "import"])
def test_routing_settings_saved_anywhere_go_through_the_service(how, request, spied):
    with spied("save_routing_settings") as spy:
        if how == "api":
            response = request.getfixturevalue("api").patch(
                "/api/v1/routing-settings/", {"aging_seconds": 120}, content_type="application/json"
            )
            assert response.status_code == 200, response.content
        else:
            apply_config({"routing_settings": {"aging_seconds": 120}}, source="test.yaml")
    assert spy.service.call_count == 1 and spy.forget.call_count >= 1
    assert RoutingSettings.current().aging_seconds == 120
