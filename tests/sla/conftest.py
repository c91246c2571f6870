"""Fixtures for the SLA tests: a channel whose messages become cases the way
production makes them (webhook → case → classify → queue, work at commit),
an agent, and SLA policies."""

from __future__ import annotations

import pytest

from cases.models import Case
from sla import calendars
from sla.models import SlaPolicy
from tests import factories


@pytest.fixture(autouse=True)
def _fresh_calendars():
    calendars.clear_cache()
    yield
    calendars.clear_cache()


@pytest.fixture
def queue():
    return factories.queue("General")


@pytest.fixture
def channel(queue):
    return factories.channel("web", default_queue=queue)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def _deliver(channel, body, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = factories.post_webhook(client, channel, body, **extra)
        assert response.status_code < 300, response.content
        return response

    return _deliver


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit work (events, background tasks)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_policy(name: str = "Standard", **fields) -> SlaPolicy:
    defaults = {"first_response_minutes": 10, "next_response_minutes": 15, "resolution_minutes": 60}
    defaults.update(fields)
    queues = defaults.pop("match_queues", [])
    policy = SlaPolicy.objects.create(name=name, **defaults)
    policy.match_queues.set(queues)
    return policy


@pytest.fixture
def policy():
    return make_policy()


def set_waiting(case: Case) -> None:
    """The agent waits on the customer (``cases.services.set_waiting``)."""
    from django.utils import timezone

    from cases.services import set_waiting as waiting

    waiting(case_id=case.pk, agent=case.assignee, now=timezone.now())
