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
_listeners: dict[type[Event], list[Listener]] = defaultdict(list)


def subscribe(event_type: type[Event], listener: Listener) -> None:
    if listener not in _listeners[event_type]:
        _listeners[event_type].append(listener)


def unsubscribe(event_type: type[Event], listener: Listener) -> None:
    if listener in _listeners[event_type]:
        _listeners[event_type].remove(listener)


def dispatch(event: Event) -> None:
    """Deliver an event to its listeners now. A failing listener is logged and
    does not stop the others: the write it reports has already committed."""
    for listener in list(_listeners[type(event)]):
        try:
            listener(event)
        except Exception:
            log.exception("listener %r failed on %s", listener, event)


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: dispatch(event), robust=True)
