"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL and
Redis when DATABASE_URL and REDIS_URL are set (CI runs both legs)."""

from __future__ import annotations

import os

import pytest
from django.db import connection

ON_POSTGRES_LEG = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config, items):
    # PostgreSQL-only tests run in the PostgreSQL leg; on the SQLite leg they
    # are deselected and counted, never silently passed. Tests that touch no
    # database ("pure") run once, in the SQLite leg: the PostgreSQL leg
    # would repeat them to the letter.
    skipped_here = "pure" if ON_POSTGRES_LEG else "postgres"
    keep, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker(skipped_here) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def capture_events():
    """``tests.events.capture_events``: the events an action published (on
    commit), optionally checked against an expected list."""
    from tests.events import capture_events

    return capture_events


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets its own in-memory channel layer (or the Redis one)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_router_state():
    """The router's per-process kept state (planning pools, queues, routing
    settings, opening hours) starts empty in every test."""
    from routing import pool

    pool.reset()
    yield
    pool.reset()


@pytest.fixture(autouse=True)
def _fresh_webhook_channels():
    """Webhooks' per-process channel cache starts empty in every test (a
    rolled-back test leaves no channel behind, and sends no signal)."""
    from connectors.webhooks import channels

    channels.clear()
    yield
    channels.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters (the Django cache) start empty in every test: ids
    are reused between rolled-back tests, and counts must not carry over."""
    from django.core.cache import cache

    cache.clear()
    yield
