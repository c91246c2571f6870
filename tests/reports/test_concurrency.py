"""Several aggregators at once on PostgreSQL: each hour is computed by one
of them (``SKIP LOCKED``), none fails, and the facts are those of one run."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from reports.aggregate import aggregate_due
from reports.models import AggregatedHour, HourlyFact
from tests.reports.conftest import at

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
WORKERS = 4
HOURS = 3 * 24 + 12


def _facts():
    return sorted(
        HourlyFact.objects.values_list("hour", "dimension", "key", "team_id", "cases_created", "handle_seconds")
    )


def test_concurrent_aggregators_compute_each_hour_once(history):
    barrier = threading.Barrier(WORKERS)
    computed, errors = [], []

    def run():
        try:
            barrier.wait()
            computed.append(aggregate_due(now=at(3, 12, 10), since=at(0, 0)))
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    # Each hour once (a runner that found an hour locked, or already done, skipped it).
    assert sum(computed) == HOURS
    assert AggregatedHour.objects.filter(computed_at__isnull=False).count() == HOURS
    together = _facts()
    AggregatedHour.objects.update(computed_at=None)
    aggregate_due(now=at(3, 12, 10), since=at(0, 0))
    assert _facts() == together
