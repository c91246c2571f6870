"""An open case whose creation events were lost (the process died after the
commit) has no clocks; the reconcile run from the SLA scan starts them,
once, and leaves alone a case no policy applies to."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.events import CaseCreated, MessageAdded
from cases.models import Case, CaseEvent, CaseStatus
from config import events
from sla import listeners, services, tasks
from sla.models import Clock
from tests import factories
from tests.sla.conftest import make_policy

LATER = timedelta(minutes=5)


@pytest.fixture
def events_lost():
    """The SLA app hears nothing of new cases: CaseCreated and the first
    MessageAdded are never dispatched to it."""
    events.unsubscribe(CaseCreated, listeners.on_case_created)
    events.unsubscribe(MessageAdded, listeners.on_message_added)
    yield
    events.subscribe(CaseCreated, listeners.on_case_created)
    events.subscribe(MessageAdded, listeners.on_message_added)


def _lost_case(deliver, channel, sender: str = "maria@example.com") -> Case:
    deliver(channel, factories.payload(**{"from": {"kind": "email", "address": sender, "name": "Customer"}}))
    case = Case.objects.latest("pk")
    assert not Clock.objects.filter(case=case).exists()
    return case


@pytest.mark.django_db
def test_a_case_whose_creation_event_was_lost_gets_its_clocks_from_the_reconcile_once(
    events_lost, deliver, channel, policy
):
    case = _lost_case(deliver, channel)

    assert services.start_missing_clocks(now=timezone.now() + LATER) == 1
    assert services.start_missing_clocks(now=timezone.now() + LATER) == 0

    clocks = {c.target: c for c in Clock.objects.filter(case=case)}
    assert set(clocks) == {"first_response", "resolution"}
    assert clocks["first_response"].started_at == case.created_at
    assert clocks["first_response"].due_at == case.created_at + timedelta(minutes=10)
    assert clocks["resolution"].due_at == case.created_at + timedelta(minutes=60)
    case.refresh_from_db()
    assert case.sla_due_at == clocks["first_response"].due_at
    assert case.events.filter(kind=CaseEvent.Kind.SLA_STARTED).count() == 2


@pytest.mark.django_db
def test_a_case_no_policy_applies_to_is_left_alone(events_lost, deliver, channel):
    make_policy("Email only", match_channel_kinds=["email"])
    case = _lost_case(deliver, channel)

    assert services.start_missing_clocks(now=timezone.now() + LATER) == 0

    assert not Clock.objects.exists()
    assert not case.events.filter(kind=CaseEvent.Kind.SLA_STARTED).exists()


@pytest.mark.django_db
def test_the_reconcile_skips_the_last_minute_old_cases_and_finished_ones(events_lost, deliver, channel, policy):
    case = _lost_case(deliver, channel)

    assert services.start_missing_clocks(now=timezone.now()) == 0  # its own event may still come
    assert services.start_missing_clocks(now=timezone.now() + timedelta(days=8)) == 0  # beyond the look-back
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)
    assert services.start_missing_clocks(now=timezone.now() + LATER) == 0
    assert not Clock.objects.exists()


@pytest.mark.django_db
def test_a_case_with_clocks_is_not_touched_and_a_run_is_bounded(events_lost, deliver, channel, policy):
    first, second = _lost_case(deliver, channel), _lost_case(deliver, channel, "jan@example.com")
    assert first.pk != second.pk

    assert services.start_missing_clocks(now=timezone.now() + LATER, limit=1) == 1
    assert set(Clock.objects.values_list("case_id", flat=True)) == {first.pk}
    assert services.start_missing_clocks(now=timezone.now() + LATER, limit=1) == 1
    assert set(Clock.objects.values_list("case_id", flat=True)) == {first.pk, second.pk}
    assert Clock.objects.count() == 4


@pytest.mark.django_db
def test_the_sla_scan_runs_the_reconcile_once_a_minute(events_lost, deliver, channel, policy, monkeypatch):
    monkeypatch.setattr(tasks, "_last_reconcile", [])
    case = _lost_case(deliver, channel)
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - LATER)

    tasks.scan_due.run()
    assert Clock.objects.filter(case=case).count() == 2

    other = _lost_case(deliver, channel, "jan@example.com")
    Case.objects.filter(pk=other.pk).update(created_at=timezone.now() - LATER)
    tasks.scan_due.run()  # within the minute: not yet
    assert not Clock.objects.filter(case=other).exists()
    assert tasks.reconcile_now_and_then(now=timezone.now() + timedelta(minutes=2)) == 1
    assert Clock.objects.filter(case=other).count() == 2


@pytest.mark.postgres
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_reconciles_start_each_case_clocks_once():
    assert connection.vendor == "postgresql"
    make_policy()
    channel = factories.channel(kind="api", default_queue=factories.queue())
    at = timezone.now() - LATER
    cases = [factories.queued_case(channel, at=at - timedelta(seconds=i)) for i in range(10)]
    barrier = threading.Barrier(4)
    results: list = [None] * 4

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = services.start_missing_clocks(now=timezone.now())
        except Exception as exc:  # returned, checked below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r for r in results if isinstance(r, Exception)] == []
    assert Clock.objects.count() == 2 * len(cases)
    assert all(Clock.objects.filter(case=c).count() == 2 for c in cases)
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.SLA_STARTED).count() == 2 * len(cases)
