"""The events an action published, for tests: ``capture_events``.

    with django_capture_on_commit_callbacks(execute=True), capture_events(
        expected=[CaseAssigned, like(CaseStatusChanged, status="assigned")]
    ) as published:
        accept_offer(offer_id=offer.pk, agent=ana)

Events are captured as they are delivered, that is when their transaction
commits (``config.events.deliver``, in "inline" and "thread" mode alike): an
event of a rolled-back transaction is never captured. Under pytest-django's
test transaction nothing commits, so run the action inside
``django_capture_on_commit_callbacks(execute=True)`` (or in a
``transaction=True`` test), as the listeners need anyway.

``expected`` is the whole list, in order: a missing, extra or misplaced
event fails, with both lists in the message. Each item is an event type, an
event (equal in every field) or ``like(type, **fields)`` (those fields
equal). Name types first (``capture_events(EscalationRaised, ...)``) to
capture and compare only events of those types.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from config import events
from config.events import Event


class like:
    """An expected event: of this type, with these fields equal (the others
    may be anything): ``like(CaseAssigned, agent_id=ana.pk)``."""

    __slots__ = ("fields", "type")

    def __init__(self, event_type: type[Event], /, **fields: Any) -> None:
        self.type = event_type
        self.fields = fields

    def matches(self, event: Event) -> bool:
        return type(event) is self.type and all(
            getattr(event, name, _MISSING) == value for name, value in self.fields.items()
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.fields.items())
        return f"{self.type.__name__}({fields}, …)" if fields else f"{self.type.__name__}(…)"


_MISSING = object()
Expected = type[Event] | Event | like


def _matches(expected: Expected, event: Event) -> bool:
    if isinstance(expected, like):
        return expected.matches(event)
    if isinstance(expected, type):
        return type(event) is expected
    return event == expected


def _show(item: Expected | Event) -> str:
    if isinstance(item, type):
        return f"{item.__name__}(…)"
    return repr(item)


def mismatch(expected: list[Expected], published: list[Event]) -> str | None:
    """Why ``published`` is not ``expected`` (None when it is)."""
    first = next(
        (n for n, (want, got) in enumerate(zip(expected, published, strict=False)) if not _matches(want, got)),
        None,
    )
    if first is None and len(expected) == len(published):
        return None
    if first is None:
        first = min(len(expected), len(published))
        if len(published) > len(expected):
            why = f"{len(published) - len(expected)} more event(s) than expected, from #{first + 1}"
        else:
            why = f"{len(expected) - len(published)} expected event(s) missing, from #{first + 1}"
    else:
        why = f"event #{first + 1} differs"
    lines = [f"the events published are not those expected: {why}", "  expected:"]
    lines += [f"  {'>' if n == first else ' '} {n + 1}. {_show(item)}" for n, item in enumerate(expected)] or [
        "     (none)"
    ]
    lines.append("  published:")
    lines += [f"  {'>' if n == first else ' '} {n + 1}. {_show(item)}" for n, item in enumerate(published)] or [
        "     (none)"
    ]
    return "\n".join(lines)


@contextmanager
def capture_events(*types: type[Event], expected: list[Expected] | None = None) -> Iterator[list[Event]]:
    """Capture the events delivered (committed) inside the block, in order,
    into the list it yields; only those of ``types`` when given. With
    ``expected``, assert at the end of the block that they are exactly
    these (see the module's docstring)."""
    published: list[Event] = []
    lock = threading.Lock()
    real_deliver = events.deliver
    pending_before = len(connection.run_on_commit)

    def deliver(batch: list[Event]) -> None:
        with lock:
            published.extend(e for e in batch if not types or isinstance(e, types))
        real_deliver(batch)

    events.deliver = deliver  # publish_on_commit's callbacks look it up when they run
    try:
        yield published
    finally:
        events.deliver = real_deliver
    if expected is not None:
        why = mismatch(list(expected), list(published))
        if why is not None and not published and len(connection.run_on_commit) > pending_before:
            why += (
                "\n  (nothing was delivered, and on-commit work was registered in the block: if it never ran,"
                " run the action inside django_capture_on_commit_callbacks(execute=True) or a transaction=True test)"
            )
        assert why is None, why
