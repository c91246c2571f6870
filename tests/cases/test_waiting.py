"""An agent waits on the customer: the case stays theirs (and holds their
capacity), the customer's next message makes it their turn again."""

from __future__ import annotations

import pytest

from cases.events import CaseStatusChanged
from cases.models import CaseEvent, CaseStatus
from routing.loads import agent_loads
from tests import factories
from tests.events import capture_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(client):
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana", capacity={"api": 2}, total=2)
    case = factories.held_case(chan, ana)
    client.force_login(ana.user)
    return chan, ana, case


def test_the_agent_sets_waiting_and_keeps_the_case_and_its_room(client, held, django_capture_on_commit_callbacks):
    _, ana, case = held
    waiting = CaseStatusChanged(case_id=case.pk, status=CaseStatus.WAITING, assignee_id=ana.pk, queue_id=case.queue_id)
    with capture_events(CaseStatusChanged, expected=[waiting]), django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/api/v1/cases/{case.pk}/waiting/")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert case.status == CaseStatus.WAITING and case.assignee == ana
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 1}}  # still held
    assert case.events.filter(kind=CaseEvent.Kind.WAITING, agent=ana).count() == 1
    with capture_events(expected=[]), django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/cases/{case.pk}/waiting/").status_code == 200  # again: nothing new
    assert case.events.filter(kind=CaseEvent.Kind.WAITING).count() == 1


def test_the_customers_reply_makes_it_the_agents_turn_again(client, held, django_capture_on_commit_callbacks):
    chan, ana, case = held
    client.post(f"/api/v1/cases/{case.pk}/waiting/")
    with django_capture_on_commit_callbacks(execute=True):
        answer = factories.post_webhook(client, chan, factories.payload(id="m-back", thread=case.thread_key))
    assert answer.status_code == 202
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED and case.assignee == ana


def test_only_the_assignee_and_only_an_assigned_case(client, held):
    chan, ana, case = held
    ben = factories.agent("ben")
    client.force_login(ben.user)
    assert client.post(f"/api/v1/cases/{case.pk}/waiting/").status_code in (403, 404)
    client.force_login(ana.user)
    resolved = factories.held_case(chan, ana, status="resolved")
    answer = client.post(f"/api/v1/cases/{resolved.pk}/waiting/")
    assert answer.status_code == 409 and "assigned" in answer.json()["detail"]
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
