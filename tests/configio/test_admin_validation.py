"""The admin explains configuration mistakes: a routing rule that can never
match and an SLA policy whose every target is 0 are refused with the reason;
a queue no agent can serve is saved with a warning saying why; bulk
activate/deactivate actions are recorded in the configuration audit."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages

from audit.models import ConfigChange
from routing.models import Queue, RoutingRule
from sla.models import SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def _inline_management(prefixes: list[str]) -> dict:
    data = {}
    for prefix in prefixes:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def _rule_form(queue: Queue, **fields) -> dict:
    return {
        "name": "Rule",
        "order": "10",
        "is_active": "on",
        "match_channel_kinds": "[]",
        "match_keywords": "",
        "match_language": "",
        "match_customer_tier": "",
        "queue": str(queue.pk),
        "add_language_skill": "on",
        **_inline_management(["skills"]),
        **fields,
    }


def test_a_rule_for_a_tier_no_customer_has_is_refused_with_the_reason(boss):
    queue = factories.queue("Sales")
    response = boss.post("/admin/routing/routingrule/add/", _rule_form(queue, match_customer_tier="gold"))
    assert response.status_code == 200  # the form again, with the error
    assert "it can never match: no customer has tier &#x27;gold&#x27; (tiers: standard, vip)" in response.text
    assert not RoutingRule.objects.exists()


def test_a_rule_behind_a_catch_all_is_refused(boss):
    queue = factories.queue("Sales")
    RoutingRule.objects.create(name="Everything", queue=queue, order=1)
    response = boss.post("/admin/routing/routingrule/add/", _rule_form(queue, match_keywords="refund"))
    assert "rule &#x27;Everything&#x27; (order 1) comes first and matches everything" in response.text
    assert RoutingRule.objects.count() == 1
    ok = boss.post("/admin/routing/routingrule/add/", _rule_form(queue, match_keywords="refund", order="0"))
    assert ok.status_code == 302 and RoutingRule.objects.count() == 2


def _queue_form(**fields) -> dict:
    return {
        "name": "Spanish billing",
        "channel_kinds": "[]",
        "priority": "3",
        "offer_timeout_seconds": "60",
        "auto_accept_channel_kinds": "[]",
        "agent_selection": "most_available",
        "case_units": "1",
        "continuity_minutes": "0",
        "first_reply_minutes": "0",
        "first_reply_action": "escalate",
        "wrap_up_seconds": "0",
        "is_active": "on",
        **_inline_management(["required_skills", "overflow_steps"]),
        **fields,
    }


def test_a_queue_no_agent_can_serve_is_saved_with_a_warning(boss):
    spanish = factories.skill("lang-es", language_code="es")
    factories.agent("ana", skills={"billing": 3})
    form = _queue_form(
        **{
            "required_skills-TOTAL_FORMS": "1",
            "required_skills-0-skill": str(spanish.pk),
            "required_skills-0-min_proficiency": "2",
        }
    )
    response = boss.post("/admin/routing/queue/add/", form)
    assert response.status_code == 302, response.text[:2000]
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert warnings == ["no agent can serve queue 'Spanish billing': no member has the required skills (lang-es >= 2)"]
    assert Queue.objects.filter(name="Spanish billing").exists()


def test_a_queue_an_agent_can_serve_gets_no_warning(boss):
    factories.agent("ana", skills={"billing": 3})
    response = boss.post("/admin/routing/queue/add/", _queue_form())
    assert response.status_code == 302
    assert [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"] == []


def _policy_form(**fields) -> dict:
    return {
        "name": "Nothing",
        "order": "0",
        "is_active": "on",
        "match_priorities": "[]",
        "match_customer_tiers": "[]",
        "match_channel_kinds": "[]",
        "first_response_minutes": "0",
        "next_response_minutes": "0",
        "resolution_minutes": "0",
        "warning_percent": "80",
        "on_reopen": "restart",
        **_inline_management(["actions", "revisions"]),
        **fields,
    }


def test_an_sla_policy_whose_every_target_is_zero_is_refused(boss):
    response = boss.post("/admin/sla/slapolicy/add/", _policy_form())
    assert response.status_code == 200
    assert "every target is 0 minutes, so this policy measures nothing" in response.text
    assert not SlaPolicy.objects.exists()
    ok = boss.post("/admin/sla/slapolicy/add/", _policy_form(first_response_minutes="30"))
    assert ok.status_code == 302 and SlaPolicy.objects.get().first_response_minutes == 30


def test_bulk_deactivation_in_the_admin_is_recorded(boss):
    sales, support = factories.queue("Sales"), factories.queue("Support")
    response = boss.post(
        "/admin/routing/queue/",
        {"action": "set_is_active_false", "_selected_action": [str(sales.pk), str(support.pk)]},
    )
    assert response.status_code == 302
    assert not Queue.objects.filter(is_active=True).exists()
    recorded = ConfigChange.objects.filter(model="routing.queue", action="updated")
    assert sorted(recorded.values_list("object_repr", flat=True)) == ["Sales", "Support"]
    assert {c.actor_name for c in recorded} == {"boss"}
    assert all(c.changes == {"is_active": [True, False]} for c in recorded)
