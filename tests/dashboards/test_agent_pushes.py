"""Cases reach their assignees' sockets: one push per case and agent for a
router's whole batch, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services as case_services
from cases.events import CaseStatusChanged
from cases.models import Case, Message
from dashboards import listeners
from dashboards.scope import agent_group
from routing.batch import route_waiting
from routing.events import CaseAssigned
from tests import factories

pytestmark = pytest.mark.django_db


def _socket(agent_id: int) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(agent_id), channel)
    return channel


def _received(channel: str) -> list[dict]:
    """What reached the channel until nothing more came for a moment."""
    import asyncio

    layer = get_channel_layer()

    async def drain() -> list[dict]:
        out = []
        while True:
            try:
                out.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return out

    return async_to_sync(drain)()


def _cases_with_messages(n: int, chan, now) -> list[Case]:
    cases = []
    for i in range(n):
        case = factories.queued_case(chan)
        for j, text in enumerate((f"first of {i}", f"second of {i}")):
            Message.objects.create(
                case=case, direction="in", channel_kind="api", text=text, created_at=now - timedelta(seconds=10 - j)
            )
        cases.append(case)
    return cases


def test_auto_accepted_batch_reaches_the_agent_once_per_case_with_its_messages(django_capture_on_commit_callbacks):
    now = timezone.now()
    chan = factories.channel("api", default_queue=factories.queue("Back office", auto_accept=True))
    ana = factories.agent("ana", capacity={"api": 5}, total=5)
    cases = _cases_with_messages(3, chan, now)
    channel = _socket(ana.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert route_waiting(now=now) == 3

    pushed = [m for m in _received(channel) if m["type"] == "case.updated"]
    # Each case was both assigned and changed status: one push each, not two.
    assert sorted(m["case"]["id"] for m in pushed) == sorted(c.pk for c in cases)
    for m in pushed:
        i = next(n for n, c in enumerate(cases) if c.pk == m["case"]["id"])
        assert m["case"]["status"] == "assigned" and m["case"]["assignee_id"] == ana.pk
        assert [x["text"] for x in m["case"]["messages"]] == [f"first of {i}", f"second of {i}"]


def test_a_status_change_reaches_the_assignee_without_the_messages(django_capture_on_commit_callbacks):
    now = timezone.now()
    chan = factories.channel("api", default_queue=factories.queue("Back office", auto_accept=True))
    ana = factories.agent("ana", capacity={"api": 5}, total=5)
    (case,) = _cases_with_messages(1, chan, now)
    route_waiting(now=now)
    channel = _socket(ana.pk)

    with django_capture_on_commit_callbacks(execute=True):
        case_services.set_waiting(case_id=case.pk, agent=ana, now=now)

    (pushed,) = [m for m in _received(channel) if m["type"] == "case.updated"]
    assert pushed["case"]["id"] == case.pk and pushed["case"]["status"] == "waiting"
    assert "messages" not in pushed["case"]


def test_the_pushes_of_a_batch_take_the_same_queries_for_one_case_as_for_twenty():
    now = timezone.now()
    chan = factories.channel("api", default_queue=factories.queue("General"))
    ana = factories.agent("ana", capacity={"api": 50}, total=50)
    ben = factories.agent("ben", capacity={"api": 50}, total=50)
    cases = _cases_with_messages(20, chan, now)
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(status="assigned", assignee=ana)
    channel = _socket(ana.pk)

    def pushes(some: list[Case]) -> int:
        batch = []
        for case in some:
            batch += [
                CaseAssigned(case_id=case.pk, agent_id=ana.pk, queue_id=case.queue_id, queued_at=now),
                CaseStatusChanged(case_id=case.pk, status="assigned", assignee_id=ana.pk, queue_id=case.queue_id),
            ]
        batch.append(CaseStatusChanged(case_id=some[0].pk, status="assigned", assignee_id=None, queue_id=None))
        with CaptureQueriesContext(connection) as queries:
            listeners.on_cases_changed(batch)
        return len(queries)

    assert pushes(cases[:1]) == pushes(cases) == 2  # the cases, and the messages of those just assigned
    received = [m for m in _received(channel) if m["type"] == "case.updated"]
    assert len(received) == 21 and all(len(m["case"]["messages"]) == 2 for m in received)
    assert not _received(_socket(ben.pk))
