"""Several SLA scanners at once on PostgreSQL: each warning and breach fires
exactly once, also when a scanner dies mid-way holding its locks."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from cases.events import EscalationRaised
from cases.models import CaseEvent
from sla import scan as sla_scan
from sla import services
from sla.models import Clock, EscalationAction
from tests import factories
from tests.events import capture_events
from tests.sla.conftest import make_policy

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

SCANNERS = 4
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)


@pytest.fixture
def feed():
    """The escalations every scanner's commits published."""
    with capture_events(EscalationRaised) as got:
        yield got


def _cases(channel, count: int) -> None:
    policy = make_policy(first_response_minutes=10, resolution_minutes=20)
    EscalationAction.objects.create(policy=policy, threshold="warning", kind="raise_priority")
    EscalationAction.objects.create(policy=policy, threshold="breach", kind="notify")
    for _ in range(count):
        case = factories.queued_case(channel, at=T0)
        services.sync_case(case_id=case.pk, now=T0)


def _thread(errors: list, fn, name: str = ""):
    def run():
        try:
            fn()
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=run, name=name or None)


def _assert_each_fired_once(clocks: int) -> None:
    for kind in ("sla_warning", "sla_breached"):
        per_clock = Counter(CaseEvent.objects.filter(kind=kind).values_list("data__clock_id", flat=True))
        assert len(per_clock) == clocks, kind
        assert set(per_clock.values()) == {1}, kind
    assert Clock.objects.filter(status="breached").count() == clocks
    assert Counter(CaseEvent.objects.filter(kind="escalation_action").values_list("data__action", flat=True)) == {
        "raise_priority": clocks,
        "notify": clocks,
    }


def test_four_scanners_at_once_fire_each_threshold_exactly_once(channel, feed):
    assert connection.vendor == "postgresql"
    _cases(channel, 120)
    errors: list[Exception] = []
    start = threading.Barrier(SCANNERS)

    def scanner():
        start.wait()
        for _ in range(8):
            sla_scan.scan(now=LATER, limit=15)

    threads = [_thread(errors, scanner) for _ in range(SCANNERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sla_scan.scan(now=LATER).fired == 0  # nothing was left behind
    _assert_each_fired_once(240)
    assert Counter(e.kind for e in feed) == {"sla_warning": 240, "sla_breach": 240}


def test_a_scanner_that_dies_holding_its_batch_loses_and_repeats_nothing(channel, feed, monkeypatch):
    assert connection.vendor == "postgresql"
    _cases(channel, 40)
    holding = threading.Event()
    die = threading.Event()
    real_mark = sla_scan._mark

    def mark(*args, **kwargs):
        real_mark(*args, **kwargs)
        if threading.current_thread().name == "dying":
            holding.set()  # its batch locked, marked and on the timeline, not committed
            die.wait(timeout=30)
            raise RuntimeError("worker died")

    monkeypatch.setattr(sla_scan, "_mark", mark)
    errors: list[Exception] = []
    dying = _thread(errors, lambda: sla_scan.scan_batch(now=LATER, limit=10), name="dying")
    dying.start()
    assert holding.wait(timeout=30)
    others = [_thread(errors, lambda: sla_scan.scan(now=LATER, limit=7)) for _ in range(SCANNERS - 1)]
    for t in others:
        t.start()
    for t in others:
        t.join()
    assert not errors
    held_back = CaseEvent.objects.filter(kind="sla_breached").count()
    assert held_back == 80 - 2 * 10  # the dying scanner's 10 cases were skipped, not waited for
    die.set()
    dying.join()
    assert len(errors) == 1 and "worker died" in str(errors[0])
    sla_scan.scan(now=LATER)
    _assert_each_fired_once(80)
    assert Counter(e.kind for e in feed) == {"sla_warning": 80, "sla_breach": 80}
