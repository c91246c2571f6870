"""The one event publisher.

Services publish domain events *on commit*: a rolled-back transaction sends
nothing. Listeners (live dashboards, later outbound webhooks and notifications)
subscribe by event type in their app's ``ready()``; services never call them
directly.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event; subclasses are frozen dataclasses."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict:
        return asdict(self)


Listener = Callable[[Event], None]
BatchListener = Callable[[list[Event]], None]
_listeners: dict[type[Event], list[Listener]] = defaultdict(list)
_batch_listeners: dict[type[Event], list[BatchListener]] = defaultdict(list)


def subscribe(event_type: type[Event], listener: Listener) -> None:
    if listener not in _listeners[event_type]:
        _listeners[event_type].append(listener)


def subscribe_batch(event_type: type[Event], listener: BatchListener) -> None:
    """Receive the events of one type that a service published together
    (``publish_many_on_commit``) as one list; a single event comes as a list
    of one."""
    if listener not in _batch_listeners[event_type]:
        _batch_listeners[event_type].append(listener)


def unsubscribe(event_type: type[Event], listener: Listener) -> None:
    if listener in _listeners[event_type]:
        _listeners[event_type].remove(listener)


def dispatch(event: Event) -> None:
    """Deliver an event to its listeners now. A failing listener is logged and
    does not stop the others: the write it reports has already committed."""
    dispatch_many([event])


def dispatch_many(batch: list[Event]) -> None:
    """Deliver events in their order to per-event listeners, and each type's
    events as one list to batch listeners."""
    by_type: dict[type[Event], list[Event]] = defaultdict(list)
    for event in batch:
        by_type[type(event)].append(event)
        for listener in list(_listeners[type(event)]):
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %s", listener, event)
    for event_type, events in by_type.items():
        for listener in list(_batch_listeners[event_type]):
            try:
                listener(events)
            except Exception:
                log.exception("batch listener %r failed on %d %s", listener, len(events), event_type.__name__)


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: dispatch(event), robust=True)


def publish_many_on_commit(batch: list[Event]) -> None:
    """Publish events that one write produced together (a router batch), so
    listeners can handle them with one query and one send instead of one each."""
    if batch:
        frozen = list(batch)
        transaction.on_commit(lambda: dispatch_many(frozen), robust=True)
