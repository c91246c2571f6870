"""Domain events become deliveries. Listeners run after the event's
transaction committed (``config.events``); each writes its delivery rows in
one transaction of its own. Services never call this module."""

from __future__ import annotations

from django.utils import timezone

from cases.events import CaseCreated, CaseStatusChanged, EscalationRaised
from config import events
from outhooks import services
from routing.events import CaseAssigned

# The names subscribers use.
EVENT_NAMES = ("case.created", "case.assigned", "case.status_changed", "case.resolved", "sla.breached")


def names_of(event: events.Event) -> list[str]:
    """The webhook event names a domain event stands for."""
    if isinstance(event, CaseCreated):
        return ["case.created"]
    if isinstance(event, CaseAssigned):
        return ["case.assigned"]
    if isinstance(event, CaseStatusChanged):
        return ["case.status_changed"] + (["case.resolved"] if event.status == "resolved" else [])
    if isinstance(event, EscalationRaised) and event.kind == "sla_breach":
        return ["sla.breached"]
    return []


def on_events(batch: list[events.Event]) -> None:
    """A router batch's events become deliveries with one query and one insert."""
    services.enqueue_many([(name, e.as_dict()) for e in batch for name in names_of(e)], now=timezone.now())


def connect() -> None:
    for event_type in (CaseCreated, CaseAssigned, CaseStatusChanged, EscalationRaised):
        events.subscribe_batch(event_type, on_events)
