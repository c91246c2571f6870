"""The periodic work: every app registers its jobs in config/schedule.py from
its AppConfig.ready(); one tick runs them all, in order, and a failing job
never stops the others. Celery beat and the embedded ticker run the same
registry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from config import schedule
from config.schedule import Schedule

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# The order of today's tick: retries, deliveries, the SLA scan, routing, then
# the housekeeping (explanations, reports, surveys, retention).
TICK_ORDER = [
    "connectors.retry_stale_events",
    "connectors.retry_due_deliveries",
    "outhooks.deliver_due",
    "sla.scan",
    "routing.expire_offers",
    "routing.end_due_wrap_ups",
    "routing.check_first_replies",
    "routing.apply_overflow",
    "routing.route_waiting",
    "routing.purge_explanations",
    "reports.aggregate",
    "surveys.send_missing",
    "privacy.purge_expired",
]


def test_jobs_run_by_order_not_by_registration_each_with_the_ticks_time():
    ran = []
    registry = Schedule()
    registry.register("b.late", lambda now: ran.append(("late", now)), order=20)
    registry.register("a.early", lambda now: ran.append(("early", now)), order=10)
    registry.register("c.same_order_by_name", lambda now: ran.append(("by name", now)), order=20)

    registry.run_due(NOW)

    assert ran == [("early", NOW), ("late", NOW), ("by name", NOW)]


def test_a_failing_job_is_logged_and_never_stops_the_others(caplog):
    ran = []

    def broken(now):
        raise RuntimeError("database hiccup")

    registry = Schedule()
    registry.register("a.first", lambda now: ran.append("first"), order=1)
    registry.register("b.broken", broken, order=2)
    registry.register("c.last", lambda now: ran.append("last"), order=3)

    with caplog.at_level(logging.ERROR, logger="config.schedule"):
        registry.run_due(NOW)

    assert ran == ["first", "last"]
    assert "periodic job b.broken failed" in caplog.text
    assert "database hiccup" in caplog.text


def test_registering_a_name_again_replaces_its_job():
    ran = []
    registry = Schedule()
    registry.register("a.job", lambda now: ran.append("old"), order=1)
    registry.register("a.job", lambda now: ran.append("new"), order=1)

    registry.run_due(NOW)

    assert ran == ["new"]


def test_every_app_registers_its_own_jobs_in_the_order_of_the_tick():
    jobs = schedule.jobs()
    assert [job.name for job in jobs] == TICK_ORDER
    # Each job is the registering app's own code (routing schedules only routing).
    assert {job.name: job.run.__module__.split(".")[0] for job in jobs} == {
        name: name.split(".")[0] for name in TICK_ORDER
    }


@pytest.mark.django_db
def test_a_failing_routing_job_never_stops_the_rest_of_the_tick(monkeypatch, caplog):
    from config.tasks import tick
    from routing import batch, offers

    def broken(**kwargs):
        raise RuntimeError("deadlock detected")

    ran = []
    monkeypatch.setattr(offers, "expire_offers", broken)
    monkeypatch.setattr(batch, "route_waiting", lambda **kwargs: ran.append(1))
    tick.run()
    assert ran == [1]
    assert "periodic job routing.expire_offers failed" in caplog.text


def test_beat_and_the_embedded_ticker_both_run_the_registry(settings, monkeypatch):
    from config import ticker
    from config.celery import app
    from config.tasks import tick

    runs = []
    monkeypatch.setattr(schedule, "run_due", lambda now: runs.append(now))
    monkeypatch.setattr(ticker, "close_old_connections", lambda: None)  # no database here
    tick.run()
    ticker._tick_once()
    assert len(runs) == 2 and all(now.tzinfo is not None for now in runs)

    entry = settings.CELERY_BEAT_SCHEDULE["switchboard-tick"]
    assert entry == {"task": "config.tasks.tick", "schedule": 1.0}
    assert app.amqp.router.route({}, "config.tasks.tick")["queue"].name == "routing"  # as before
