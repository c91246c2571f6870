"""What the router reads of queues and its settings, kept for a moment:
every queue's routing settings, the routing settings, and which queues are
outside their opening hours (from a source a higher app registers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from routing.core import Selection
from routing.models import Queue, RoutingSettings


@dataclass(frozen=True, slots=True)
class QueueInfo:
    queue_id: int
    priority: int
    team_id: int | None
    open_to_all: bool  # no team and no direct members: every agent serves it
    selection: Selection
    continuity_minutes: int
    offer_timeout_seconds: int
    auto_accept: bool
    auto_accept_channel_kinds: frozenset[str]

    def auto_accepts(self, channel_kind: str) -> bool:
        return self.auto_accept or channel_kind in self.auto_accept_channel_kinds


class _Kept:
    """A value this process reads at most every ``ROUTER_STATE_MS`` (queues'
    routing settings, the routing settings): forgotten at once when this
    process saves one (``routing.signals``), within that time when another
    does."""

    def __init__(self, load) -> None:
        self._load = load
        self._value = None
        self._loaded_at = float("-inf")

    def get(self):
        from django.conf import settings as django_settings

        ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
        if self._value is None or time.monotonic() - self._loaded_at >= ttl:
            self._value = self._load()
            self._loaded_at = time.monotonic()
        return self._value

    def clear(self, *args, **kwargs) -> None:
        self._value = None


def queues() -> dict[int, QueueInfo]:
    """Every queue's routing settings (kept for a moment: see ``_Kept``)."""
    return _queues.get()


def routing_settings() -> RoutingSettings:
    """``RoutingSettings.current()``, kept for a moment (see ``_Kept``)."""
    return _settings.get()


def _load_queues() -> dict[int, QueueInfo]:
    rows = Queue.objects.annotate(direct=Count("agents")).values(
        "pk",
        "priority",
        "team_id",
        "direct",
        "agent_selection",
        "continuity_minutes",
        "offer_timeout_seconds",
        "auto_accept",
        "auto_accept_channel_kinds",
    )
    return {
        row["pk"]: QueueInfo(
            queue_id=row["pk"],
            priority=row["priority"],
            team_id=row["team_id"],
            open_to_all=row["team_id"] is None and row["direct"] == 0,
            selection=Selection(row["agent_selection"]),
            continuity_minutes=row["continuity_minutes"],
            offer_timeout_seconds=row["offer_timeout_seconds"],
            auto_accept=row["auto_accept"],
            auto_accept_channel_kinds=frozenset(row["auto_accept_channel_kinds"] or ()),
        )
        for row in rows
    }


def set_opening_hours_source(source: Callable[[datetime], list[int]] | None) -> None:
    """Where ``closed_queue_ids`` learns which queues are outside their
    opening hours at a time: ``sla`` registers its calendars' answer in its
    ``AppConfig.ready()`` (routing is below sla and never imports it).
    Without a source every queue is open."""
    global _opening_hours_source
    _opening_hours_source = source
    _closed.clear()


def closed_queue_ids(now: datetime) -> list[int]:
    """Queues outside their opening hours (``sla`` calendars) at ``now``;
    kept like the queues (``_Kept``), for the same ``now`` give or take that
    long, so opening and closing may be seen up to ``ROUTER_STATE_MS`` late."""
    from django.conf import settings as django_settings

    closed = _opening_hours_source
    if closed is None:
        return []
    ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
    kept = _closed.get(None) if ttl > 0 else None
    if kept is not None:
        value, at, loaded = kept
        if time.monotonic() - loaded < ttl and abs((now - at).total_seconds()) < ttl:
            return value
    value = closed(now)
    _closed[None] = (value, now, time.monotonic())
    return value


def forget(*args, **kwargs) -> None:
    """Forget what is kept here (a queue or the routing settings saved in
    this process, and tests): the next read loads it anew."""
    _queues.clear()
    _settings.clear()
    _closed.clear()


_opening_hours_source: Callable[[datetime], list[int]] | None = None
_closed: dict = {}


_queues = _Kept(_load_queues)
_settings = _Kept(RoutingSettings.current)
