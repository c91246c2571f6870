"""Promises (follow-ups) and the SLA API: who may change what, bad input
refused with a clear 4xx, promises reminded, missed and kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Role
from cases.events import EscalationRaised
from cases.models import CaseEvent
from sla import promises, selectors
from sla.events import PromiseReminded
from sla.models import BusinessCalendar, PolicyRevision, Promise, SlaPolicy
from tests import factories
from tests.events import capture_events, like
from tests.sla.conftest import make_policy

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin():
    return factories.user("root", role=Role.ADMIN)


@pytest.fixture
def held(channel):
    agent = factories.agent("ana", presence=None)
    return factories.held_case(channel, agent), agent


# --- Promises ---------------------------------------------------------------------


def test_an_agent_records_a_promise_on_a_case_they_hold(held):
    case, agent = held
    due = timezone.now() + timedelta(days=1)
    response = _api(agent.user).post(
        "/api/v1/sla/promises/",
        {"case": case.pk, "due_at": due.isoformat(), "channel_kind": "voice", "note": "Call back at 10"},
        format="json",
    )
    assert response.status_code == 201, response.content
    promise = Promise.objects.get()
    assert (promise.agent, promise.customer_id, promise.channel_kind) == (agent, case.customer_id, "voice")
    assert promise.remind_at == promise.due_at - timedelta(minutes=15)
    assert case.events.filter(kind=CaseEvent.Kind.PROMISE_SET).exists()
    assert list(selectors.promises_for_customer(case.customer_id)) == [promise]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"due_at": "2000-01-01T00:00:00Z", "channel_kind": "voice"}, 400),
        ({"due_at": "tomorrow", "channel_kind": "voice"}, 400),
        ({"channel_kind": "pigeon"}, 400),
        ({"note": "x" * 3000}, 400),
    ],
)
def test_bad_promises_are_refused_and_change_nothing(held, body, status):
    case, agent = held
    data = {"case": case.pk, "due_at": (timezone.now() + timedelta(hours=1)).isoformat(), "channel_kind": "voice"}
    data.update(body)
    response = _api(agent.user).post("/api/v1/sla/promises/", data, format="json")
    assert response.status_code == status
    assert not Promise.objects.exists()


def test_an_agent_cannot_promise_on_a_case_they_cannot_see(held):
    case, _ = held
    stranger = factories.agent("stranger", presence=None)
    due = (timezone.now() + timedelta(hours=1)).isoformat()
    response = _api(stranger.user).post(
        "/api/v1/sla/promises/", {"case": case.pk, "due_at": due, "channel_kind": "voice"}, format="json"
    )
    assert response.status_code == 404
    assert not Promise.objects.exists()


def test_a_promise_is_reminded_then_escalated_when_missed_each_once(held, committing):
    case, agent = held
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    promise = promises.make_promise(
        case_id=case.pk, agent=agent, due_at=now + timedelta(hours=1), channel_kind="voice", note="", now=now
    )
    expected = [
        like(PromiseReminded, promise_id=promise.pk, agent_id=agent.pk),
        like(EscalationRaised, kind="promise_missed", case_id=case.pk),
    ]
    with capture_events(PromiseReminded, EscalationRaised, expected=expected):
        assert promises.scan_promises(now=now + timedelta(minutes=30)) == (0, 0)
        with committing():
            assert promises.scan_promises(now=now + timedelta(minutes=45)) == (1, 0)
        with committing():
            assert promises.scan_promises(now=now + timedelta(minutes=50)) == (0, 0)
        with committing():
            assert promises.scan_promises(now=now + timedelta(minutes=61)) == (0, 1)
        assert promises.scan_promises(now=now + timedelta(hours=5)) == (0, 0)
    kinds = list(case.events.filter(kind__startswith="promise_").values_list("kind", flat=True))
    assert kinds == ["promise_set", "promise_reminded", "promise_missed"]
    promise.refresh_from_db()
    assert promise.status == Promise.Status.MISSED


def test_a_promise_marked_done_is_kept_and_never_escalated(held):
    case, agent = held
    due = timezone.now() + timedelta(hours=1)
    promise = promises.make_promise(
        case_id=case.pk, agent=agent, due_at=due, channel_kind="email", note="", now=timezone.now()
    )
    response = _api(agent.user).post(f"/api/v1/sla/promises/{promise.pk}/keep/")
    assert response.status_code == 200
    assert response.json()["status"] == "kept"
    assert promises.scan_promises(now=due + timedelta(hours=1)) == (0, 0)
    assert _api(agent.user).post(f"/api/v1/sla/promises/{promise.pk}/cancel/").status_code == 409


# --- Configuration over the API -------------------------------------------------------


def test_admins_configure_calendars_and_policies_and_each_change_is_recorded(admin, queue):
    api = _api(admin)
    calendar = api.post(
        "/api/v1/sla/calendars/",
        {
            "name": "New York office",
            "time_zone": "America/New_York",
            "holiday_country": "us",
            "holiday_subdivision": "NY",
            "hours": [{"weekday": d, "opens": "09:00", "closes": "17:00"} for d in range(5)],
            "closed_dates": [{"date": "2026-12-31", "name": "Party"}],
        },
        format="json",
    )
    assert calendar.status_code == 201, calendar.content
    calendar_id = calendar.json()["id"]
    holidays = api.get(f"/api/v1/sla/calendars/{calendar_id}/holidays/?year=2026").json()
    assert {"date": "2026-07-04", "name": "Independence Day", "source": "holidays"} in holidays
    assert {"date": "2026-12-31", "name": "Party", "source": "custom"} in holidays
    policy = api.post(
        "/api/v1/sla/policies/",
        {
            "name": "VIP",
            "match_customer_tiers": ["vip"],
            "match_queues": [queue.pk],
            "calendar": calendar_id,
            "first_response_minutes": 30,
            "actions": [{"threshold": "breach", "kind": "notify"}],
        },
        format="json",
    )
    assert policy.status_code == 201, policy.content
    policy_id = policy.json()["id"]
    assert policy.json()["revision"] == 1
    changed = api.patch(f"/api/v1/sla/policies/{policy_id}/", {"first_response_minutes": 20}, format="json")
    assert changed.json()["revision"] == 2
    revisions = api.get(f"/api/v1/sla/policies/{policy_id}/revisions/").json()
    assert [r["number"] for r in revisions] == [2, 1]
    assert revisions[0]["changed_by"] == "root"
    assert revisions[1]["snapshot"]["actions"] == [
        {"threshold": "breach", "kind": "notify", "queue_id": None, "lead_id": None}
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad zone", "time_zone": "Mars/Olympus"},
        {"name": "Bad country", "holiday_country": "XX"},
        {"name": "Bad subdivision", "holiday_country": "US", "holiday_subdivision": "ZZ"},
        {"name": "Bad hours", "hours": [{"weekday": 9, "opens": "09:00", "closes": "17:00"}]},
    ],
)
def test_bad_calendars_are_refused(admin, body):
    response = _api(admin).post("/api/v1/sla/calendars/", body, format="json")
    assert response.status_code == 400
    assert not BusinessCalendar.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"warning_percent": 120},
        {"match_priorities": [7]},
        {"match_customer_tiers": ["gold"]},
        {"actions": [{"threshold": "breach", "kind": "move_to_queue"}]},
    ],
)
def test_bad_policies_are_refused(admin, body):
    response = _api(admin).post("/api/v1/sla/policies/", {"name": "P", **body}, format="json")
    assert response.status_code == 400
    assert not SlaPolicy.objects.exists()
    assert not PolicyRevision.objects.exists()


def test_agents_read_configuration_but_cannot_change_it(held):
    _, agent = held
    make_policy()
    api = _api(agent.user)
    assert api.get("/api/v1/sla/policies/").status_code == 200
    assert api.post("/api/v1/sla/policies/", {"name": "Mine"}, format="json").status_code == 403
    assert api.post("/api/v1/sla/calendars/", {"name": "Mine"}, format="json").status_code == 403


def test_the_clocks_of_a_case_are_readable_by_who_sees_the_case(held):
    case, agent = held
    make_policy()
    from sla.services import sync_case

    sync_case(case_id=case.pk, now=timezone.now())
    mine = _api(agent.user).get(f"/api/v1/sla/clocks/?case={case.pk}")
    assert mine.status_code == 200
    assert {c["target"] for c in mine.json()} == {"first_response", "resolution"}
    stranger = factories.agent("other", presence=None)
    assert _api(stranger.user).get(f"/api/v1/sla/clocks/?case={case.pk}").json() == []
    assert _api(agent.user).get("/api/v1/sla/clocks/").status_code == 400


def test_a_calendar_or_policy_in_use_is_not_deleted(admin, channel):
    calendar = BusinessCalendar.objects.create(name="Office")
    policy = make_policy(calendar=calendar)
    from sla.services import sync_case

    sync_case(case_id=factories.queued_case(channel).pk, now=timezone.now())
    api = _api(admin)
    response = api.delete(f"/api/v1/sla/calendars/{calendar.pk}/")
    assert response.status_code == 409 and "used by" in response.json()["detail"]
    assert api.delete(f"/api/v1/sla/policies/{policy.pk}/").status_code == 409
    assert SlaPolicy.objects.filter(pk=policy.pk).exists()
    assert api.delete(f"/api/v1/sla/policies/{make_policy('Unused').pk}/").status_code == 204
