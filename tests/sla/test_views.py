"""SLA in the views that exist: the admin (configuration, with each policy
change recorded) and the agent workspace's case and offer payloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from dashboards import selectors as dashboard_selectors
from routing.models import Offer
from sla.models import BusinessCalendar, PolicyRevision, SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests"))
    return client


@pytest.mark.parametrize("model", ["slapolicy", "businesscalendar", "clock", "promise"])
def test_sla_configuration_and_state_are_in_the_admin(admin_client, model):
    assert admin_client.get(f"/admin/sla/{model}/").status_code == 200


def test_a_policy_saved_in_the_admin_is_recorded(admin_client):
    form = {
        "name": "Admin policy",
        "order": 0,
        "is_active": "on",
        "match_priorities": "[]",
        "match_customer_tiers": '["vip"]',
        "match_channel_kinds": "[]",
        "first_response_minutes": 5,
        "next_response_minutes": 0,
        "resolution_minutes": 0,
        "warning_percent": 80,
        "on_reopen": "restart",
        "actions-TOTAL_FORMS": 1,
        "actions-INITIAL_FORMS": 0,
        "actions-0-threshold": "breach",
        "actions-0-kind": "notify",
        "revisions-TOTAL_FORMS": 0,
        "revisions-INITIAL_FORMS": 0,
    }
    response = admin_client.post("/admin/sla/slapolicy/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    revision = PolicyRevision.objects.get(policy=SlaPolicy.objects.get())
    assert revision.changed_by.username == "admin"
    assert revision.snapshot["actions"] == [
        {"threshold": "breach", "kind": "notify", "queue_id": None, "lead_id": None}
    ]


def test_a_calendar_edited_in_the_admin_is_read_anew(admin_client):
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Europe/Prague")
    before = calendar.updated_at
    form = {
        "name": "Office",
        "time_zone": "Europe/Prague",
        "holiday_country": "CZ",
        "holiday_subdivision": "",
        "hours-TOTAL_FORMS": 1,
        "hours-INITIAL_FORMS": 0,
        "hours-0-weekday": 0,
        "hours-0-opens": "09:00",
        "hours-0-closes": "17:00",
        "closed_dates-TOTAL_FORMS": 0,
        "closed_dates-INITIAL_FORMS": 0,
    }
    response = admin_client.post(f"/admin/sla/businesscalendar/{calendar.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    calendar.refresh_from_db()
    assert calendar.updated_at > before
    assert calendar.hours.count() == 1


def test_the_workspace_payloads_carry_the_time_left(queue, channel):
    due = timezone.now() + timedelta(minutes=10)
    case = factories.queued_case(channel, sla_due_at=due)
    payload = dashboard_selectors.case_payload(case)
    assert payload["sla_due_at"] == due.isoformat()
    assert 0 < payload["sla_seconds_left"] <= 600
    agent = factories.agent("ana")
    offer = Offer.objects.create(
        case=case, agent=agent, channel_kind=case.channel_kind, created_at=timezone.now(), expires_at=due
    )
    assert 0 < dashboard_selectors.offer_payload(offer)["sla_seconds_left"] <= 600
    late = factories.queued_case(channel, sla_due_at=timezone.now() - timedelta(minutes=5))
    assert dashboard_selectors.case_payload(late)["sla_seconds_left"] < 0
    assert dashboard_selectors.case_payload(factories.queued_case(channel))["sla_seconds_left"] is None
