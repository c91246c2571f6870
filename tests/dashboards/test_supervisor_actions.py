"""Supervisor actions over REST: scope, validation, timeline and audit, and
the coalesced statistics they change."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from agents.models import AgentCapacity, Role, Team
from cases.models import CaseEvent, CaseStatus
from dashboards.models import SupervisorAction
from dashboards.streams import Coalescer
from dashboards.supervision import queue_rows
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    sales, support = Team.objects.create(name="Sales"), Team.objects.create(name="Support")
    q_sales = factories.queue("Sales", team=sales)
    q_support = factories.queue("Support", team=support)
    ana = factories.agent("ana", teams=[sales], present=False)
    ben = factories.agent("ben", teams=[support], present=False)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    sales.supervisors.add(sam)
    channel = factories.channel("sales", default_queue=q_sales, kind="web_chat")
    return {"sam": sam, "ana": ana, "ben": ben, "q_sales": q_sales, "q_support": q_support, "channel": channel}


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/supervisor/")  # sets the CSRF cookie, as the page does
    return client


def post(client: Client, url: str, body: dict):
    return client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


def test_queue_priority_change_reranks_waiting_cases_and_is_audited(w):
    case = factories.queued_case(w["channel"])
    before = case.route_rank
    client = client_for(w["sam"])
    response = post(client, f"/api/v1/supervisor/queues/{w['q_sales'].pk}/priority/", {"priority": 1})
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.route_rank < before
    action = SupervisorAction.objects.get()
    assert (action.kind, action.actor, action.data["from"], action.data["to"]) == ("queue_priority", w["sam"], 3, 1)


def test_a_supervisor_cannot_touch_another_teams_queue_or_agent(w):
    client = client_for(w["sam"])
    assert post(client, f"/api/v1/supervisor/queues/{w['q_support'].pk}/priority/", {"priority": 1}).status_code == 404
    assert post(client, f"/api/v1/supervisor/agents/{w['ben'].pk}/capacity/", {"total": 9}).status_code == 404
    w["q_support"].refresh_from_db()
    assert w["q_support"].priority == 3 and not SupervisorAction.objects.exists()


def test_agents_may_not_use_supervisor_actions(w):
    client = client_for(w["ana"].user)
    response = post(client, f"/api/v1/supervisor/queues/{w['q_sales'].pk}/priority/", {"priority": 1})
    assert response.status_code == 403


def test_without_csrf_token_the_page_session_is_refused(w):
    client = Client(enforce_csrf_checks=True)
    client.force_login(w["sam"])
    response = client.post(
        f"/api/v1/supervisor/queues/{w['q_sales'].pk}/priority/", {"priority": 1}, content_type="application/json"
    )
    assert response.status_code == 403


def test_bad_input_is_a_clear_400_and_changes_nothing(w):
    client = client_for(w["sam"])
    url = f"/api/v1/supervisor/queues/{w['q_sales'].pk}/priority/"
    response = post(client, url, {"priority": 9})
    assert response.status_code == 400 and "priority" in response.json()
    response = post(client, f"/api/v1/supervisor/agents/{w['ana'].pk}/capacity/", {"capacities": {"fax": 2}})
    assert response.status_code == 400 and "fax" in str(response.json())
    assert post(client, f"/api/v1/supervisor/agents/{w['ana'].pk}/capacity/", {}).status_code == 400
    assert not SupervisorAction.objects.exists()


def test_capacity_and_status_changes_are_applied_and_audited(w):
    client = client_for(w["sam"])
    response = post(
        client, f"/api/v1/supervisor/agents/{w['ana'].pk}/capacity/", {"total": 7, "capacities": {"web_chat": 4}}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"total": 7, "capacities": {"api": 2, "email": 3, "web_chat": 4}}
    chat = factories.status("Chat only", ["web_chat"])
    response = post(client, f"/api/v1/supervisor/agents/{w['ana'].pk}/status/", {"status_id": chat.pk})
    assert response.status_code == 200
    w["ana"].refresh_from_db()
    assert w["ana"].status_id == chat.pk and w["ana"].status_reason == "Set to Chat only by sam."
    assert AgentCapacity.objects.get(agent=w["ana"], channel_kind="web_chat").units == 4
    assert list(SupervisorAction.objects.order_by("pk").values_list("kind", flat=True)) == [
        "agent_capacity",
        "agent_status",
    ]


def test_channel_kind_priority_changes_waiting_cases_on_their_timeline(w):
    mine = factories.queued_case(w["channel"])
    other_channel = factories.channel("support", default_queue=w["q_support"], kind="web_chat")
    theirs = factories.queued_case(other_channel)
    client = client_for(w["sam"])
    response = post(client, "/api/v1/supervisor/channel-kind-priority/", {"channel_kind": "web_chat", "priority": 1})
    assert response.status_code == 200 and response.json() == {"changed": 1}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.priority, theirs.priority) == (1, 3)  # only the supervisor's own queues
    event = CaseEvent.objects.get(case=mine, kind=CaseEvent.Kind.PRIORITY_CHANGED)
    assert event.data["from"] == 3 and event.data["to"] == 1 and event.actor == w["sam"]


def test_reassign_and_transfer_from_the_dashboard_are_on_the_timeline(w, django_capture_on_commit_callbacks):
    w["ana"].present_until = timezone.now() + timezone.timedelta(minutes=5)
    w["ana"].save()
    held = factories.held_case(w["channel"], w["ben"])
    client = client_for(w["sam"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, f"/api/v1/cases/{held.pk}/assign/", {"agent": w["ana"].pk, "force": True})
    assert response.status_code == 200, response.content
    held.refresh_from_db()
    assert held.assignee_id == w["ana"].pk
    kinds = list(held.events.values_list("kind", flat=True))
    assert CaseEvent.Kind.REASSIGNED in kinds
    from dashboards.models import Escalation

    assert Escalation.objects.filter(kind="forced_assignment", case_id=held.pk).exists()
    response = post(client, f"/api/v1/cases/{held.pk}/transfer/", {"queue": w["q_support"].pk})
    assert response.status_code == 200, response.content
    held.refresh_from_db()
    assert held.queue_id == w["q_support"].pk and held.status in (CaseStatus.QUEUED, CaseStatus.OFFERED)
    assert held.events.filter(kind=CaseEvent.Kind.TRANSFERRED).exists()


def test_drill_down_lists_the_queues_open_cases(w):
    waiting = factories.queued_case(w["channel"])
    client = client_for(w["sam"])
    rows = client.get(f"/api/v1/supervisor/queues/{w['q_sales'].pk}/cases/").json()
    assert [r["id"] for r in rows] == [waiting.pk]
    assert client.get(f"/api/v1/supervisor/queues/{w['q_support'].pk}/cases/").status_code == 404


def test_queue_figures(w):
    now = timezone.now()
    factories.queued_case(
        w["channel"], at=now - timezone.timedelta(minutes=10), sla_due_at=now - timezone.timedelta(minutes=1)
    )
    factories.queued_case(
        w["channel"], at=now - timezone.timedelta(minutes=2), sla_due_at=now + timezone.timedelta(minutes=5)
    )
    factories.held_case(w["channel"], w["ana"], status="waiting")
    row = queue_rows([w["q_sales"].pk], now)[w["q_sales"].pk]
    assert (row["waiting"], row["waiting_on_customer"], row["sla_breached"], row["sla_at_risk"]) == (2, 1, 1, 1)
    assert now.timestamp() - row["oldest_queued_at"] == pytest.approx(600, abs=2)
    assert now.timestamp() - row["average_queued_at"] == pytest.approx(360, abs=2)
    assert row["capacity_in_use"] == 1
    assert (row["arrivals_15"], row["arrivals_60"]) == (3, 3)


def test_many_marks_make_one_flush():
    flushed = []
    coalescer = Coalescer(flushed.append, delay=lambda: 60)  # a long window: nothing flushes by itself here
    coalescer._ensure_thread = lambda: None  # the test flushes by hand
    for i in range(1000):
        coalescer.mark(queues=[i % 3], agents=[i % 5])
    coalescer.flush_now()
    assert len(flushed) == 1
    assert flushed[0].queues == {0, 1, 2} and flushed[0].agents == {0, 1, 2, 3, 4}
    coalescer.flush_now()
    assert len(flushed) == 1  # nothing dirty: nothing sent


def test_the_agent_page_links_supervisors_to_their_dashboard(w):
    lead = factories.agent("lea", teams=[])
    lead.user.groups.clear()
    from django.contrib.auth.models import Group

    lead.user.groups.add(Group.objects.get_or_create(name=Role.SUPERVISOR)[0])
    client = Client()
    client.force_login(lead.user)
    assert b'href="/supervisor/"' in client.get("/agent/").content
    client.force_login(w["ana"].user)
    assert b'href="/supervisor/"' not in client.get("/agent/").content
    assert client.get("/supervisor/").status_code == 403
