"""The hourly facts are kept by the periodic tick, at most once a minute
per process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.tasks import tick
from reports import aggregate
from reports.aggregate import LOOKBACK_HOURS, aggregate_now_and_then, hour_floor
from reports.models import AggregatedHour

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _first_run_in_this_process():
    aggregate._last_run.clear()
    yield
    aggregate._last_run.clear()


def test_the_tick_keeps_the_last_hours():
    tick.run()
    last = hour_floor(timezone.now()) - timedelta(hours=1)
    hours = set(AggregatedHour.objects.filter(computed_at__isnull=False).values_list("hour", flat=True))
    assert hours == {last - timedelta(hours=i) for i in range(LOOKBACK_HOURS)}


def test_aggregation_runs_at_most_once_a_minute():
    now = hour_floor(timezone.now()) + timedelta(minutes=2)
    assert aggregate_now_and_then(now) == LOOKBACK_HOURS
    AggregatedHour.objects.update(computed_at=None)
    assert aggregate_now_and_then(now + timedelta(seconds=59)) == 0
    assert aggregate_now_and_then(now + timedelta(seconds=60)) == LOOKBACK_HOURS


def test_history_is_computed_on_request():
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    since = hour_floor(timezone.now()) - timedelta(hours=10)
    call_command("aggregate_reports", "--since", since.isoformat(), stdout=out)
    assert out.getvalue().strip() == "10 hours computed"
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("aggregate_reports", "--since", "last week")
