"""SLA configuration has one write path (``sla.configuration``): a policy or a
calendar saved over the API, in the admin or by ``import_config`` records the
same things once — one revision per save of a policy, its actions and queues
in it; a calendar's schedules read anew; every row in the audit."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from agents.models import Role
from audit.models import ConfigChange
from configio.load import apply_config
from sla import calendars, configuration
from sla.models import BusinessCalendar, EscalationAction, SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing():
    return factories.queue("Billing")


@pytest.fixture
def api(client):
    root = factories.user("root", role=Role.ADMIN)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=root).key}"
    return client


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def _by_api(api, billing) -> SlaPolicy:
    body = {
        "name": "Gold",
        "first_response_minutes": 30,
        "resolution_minutes": 480,
        "match_queues": [billing.pk],
        "actions": [{"threshold": "breach", "kind": "notify"}],
    }
    response = api.post("/api/v1/sla/policies/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return SlaPolicy.objects.get(pk=response.json()["id"])


def _by_admin(boss, billing) -> SlaPolicy:
    form = {
        "name": "Gold",
        "order": "100",
        "is_active": "on",
        "match_priorities": "[]",
        "match_customer_tiers": "[]",
        "match_channel_kinds": "[]",
        "match_queues": [str(billing.pk)],
        "first_response_minutes": "30",
        "next_response_minutes": "0",
        "resolution_minutes": "480",
        "warning_percent": "80",
        "on_reopen": "restart",
        "actions-TOTAL_FORMS": "1",
        "actions-INITIAL_FORMS": "0",
        "actions-0-threshold": "breach",
        "actions-0-kind": "notify",
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }
    response = boss.post("/admin/sla/slapolicy/add/", form)
    assert response.status_code == 302, response.content
    return SlaPolicy.objects.get(name="Gold")


def _by_import(billing) -> SlaPolicy:
    row = {
        "name": "Gold",
        "first_response_minutes": 30,
        "resolution_minutes": 480,
        "match_queues": ["Billing"],
        "actions": [{"threshold": "breach", "kind": "notify"}],
    }
    apply_config({"sla_policies": [row]}, source="test.yaml")
    return SlaPolicy.objects.get(name="Gold")


ENTRY_POINTS = {"api": _by_api, "admin": _by_admin, "import": _by_import}


def _save(how: str, request, billing) -> SlaPolicy:
    if how == "import":
        return _by_import(billing)
    return ENTRY_POINTS[how](request.getfixturevalue(how if how == "api" else "boss"), billing)


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_a_policy_saved_anywhere_has_one_revision_with_its_queues_and_actions(how, request, billing):
    policy = _save(how, request, billing)
    (revision,) = policy.revisions.all()
    assert revision.number == 1
    assert revision.snapshot["match_queue_ids"] == [billing.pk]
    assert revision.snapshot["actions"] == [
        {"threshold": "breach", "kind": "notify", "queue_id": None, "lead_id": None}
    ]


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_a_policys_actions_are_in_the_audit_whichever_way_it_was_saved(how, request, billing):
    policy = _save(how, request, billing)
    action = EscalationAction.objects.get(policy=policy)
    recorded = ConfigChange.objects.filter(model="sla.escalationaction", object_id=str(action.pk), action="created")
    assert recorded.exists()


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_each_entry_point_saves_a_policy_through_the_service_once(how, request, billing):
    with mock.patch.object(configuration, "save_policy", wraps=configuration.save_policy) as save:
        _save(how, request, billing)
    assert save.call_count == 1


def test_a_policy_changed_in_the_admin_keeps_unchanged_action_rows_and_records_a_revision(boss, billing):
    policy = _by_admin(boss, billing)
    action = policy.actions.get()
    form = {
        "name": "Gold",
        "order": "100",
        "is_active": "on",
        "match_priorities": "[]",
        "match_customer_tiers": "[]",
        "match_channel_kinds": "[]",
        "first_response_minutes": "45",
        "next_response_minutes": "0",
        "resolution_minutes": "480",
        "warning_percent": "80",
        "on_reopen": "restart",
        "actions-TOTAL_FORMS": "1",
        "actions-INITIAL_FORMS": "1",
        "actions-0-id": str(action.pk),
        "actions-0-policy": str(policy.pk),
        "actions-0-threshold": "breach",
        "actions-0-kind": "notify",
        "revisions-TOTAL_FORMS": "1",
        "revisions-INITIAL_FORMS": "1",
        "revisions-0-id": str(policy.revisions.get().pk),
        "revisions-0-policy": str(policy.pk),
    }
    response = boss.post(f"/admin/sla/slapolicy/{policy.pk}/change/", form)
    assert response.status_code == 302, response.content
    assert list(policy.actions.values_list("pk", flat=True)) == [action.pk]  # kept, not replaced
    assert list(policy.match_queues.all()) == []  # the form left it empty
    latest = policy.revisions.order_by("-number").first()
    assert (latest.number, latest.snapshot["first_response_minutes"], latest.changed_by.username) == (2, 45, "boss")


def test_a_policy_in_use_is_refused_by_the_service(billing):
    policy = SlaPolicy.objects.create(name="Gold", first_response_minutes=30)
    calendar = BusinessCalendar.objects.create(name="Madrid")
    policy.calendar = calendar
    policy.save()
    with pytest.raises(configuration.InUse, match="used by an SLA policy"):
        configuration.delete_calendar(calendar=calendar)
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


# --- Calendars -----------------------------------------------------------------------------------


def _calendar_by_api(request, calendar: BusinessCalendar) -> None:
    api = request.getfixturevalue("api")
    body = {"hours": [{"weekday": 0, "opens": "08:00", "closes": "12:00"}]}
    response = api.patch(f"/api/v1/sla/calendars/{calendar.pk}/", body, content_type="application/json")
    assert response.status_code == 200, response.content


def _calendar_by_admin(request, calendar: BusinessCalendar) -> None:
    boss = request.getfixturevalue("boss")
    form = {
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "holiday_country": "",
        "holiday_subdivision": "",
        "hours-TOTAL_FORMS": "1",
        "hours-INITIAL_FORMS": "0",
        "hours-0-weekday": "0",
        "hours-0-opens": "08:00",
        "hours-0-closes": "12:00",
        "closed_dates-TOTAL_FORMS": "0",
        "closed_dates-INITIAL_FORMS": "0",
    }
    response = boss.post(f"/admin/sla/businesscalendar/{calendar.pk}/change/", form)
    assert response.status_code == 302, response.content


def _calendar_by_import(request, calendar: BusinessCalendar) -> None:
    row = {"name": calendar.name, "hours": [{"weekday": 0, "opens": "08:00", "closes": "12:00"}]}
    apply_config({"calendars": [row]}, source="test.yaml")


CALENDAR_ENTRY_POINTS = {"api": _calendar_by_api, "admin": _calendar_by_admin, "import": _calendar_by_import}


@pytest.mark.parametrize("how", CALENDAR_ENTRY_POINTS)
def test_a_calendar_saved_anywhere_is_read_anew_and_its_rows_audited(how, request, django_capture_on_commit_callbacks):
    calendar = BusinessCalendar.objects.create(name="Madrid", time_zone="Europe/Madrid")
    before = calendars.schedule_for(calendar.pk)
    with (
        mock.patch.object(configuration, "save_calendar", wraps=configuration.save_calendar) as save,
        django_capture_on_commit_callbacks() as on_commit,
    ):
        CALENDAR_ENTRY_POINTS[how](request, calendar)
    assert save.call_count == 1
    after = calendars.schedule_for(calendar.pk)
    assert after is not before and after != before  # the cached schedule was not reused
    assert list(calendar.hours.values_list("weekday", "opens__hour", "closes__hour")) == [(0, 8, 12)]
    hours = calendar.hours.get()
    assert ConfigChange.objects.filter(model="sla.openinghours", object_id=str(hours.pk), action="created").exists()
    assert any(getattr(c, "__name__", "") == "forget_kept_state" for c in on_commit)  # the router's closed queues
