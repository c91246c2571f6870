"""Fixtures for the cases tests: a webhook sender that runs the work the
request schedules at commit (normalization, routing), as production would."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed body to a channel's webhook and run its on-commit work."""

    def _deliver(channel, body, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return factories.post_webhook(client, channel, body, **extra)

    return _deliver
