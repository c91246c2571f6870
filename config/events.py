"""The one event publisher.

Services publish domain events *on commit*: a rolled-back transaction sends
nothing. Listeners (live dashboards, outbound webhooks, SLA clocks, metrics)
subscribe by event type in their app's ``ready()``; services never call them
directly.

Where listeners run (``SWITCHBOARD["EVENTS"]``):

- ``"thread"`` (production: Celery workers, routers, web processes with
  PostgreSQL and Redis): this process's event thread delivers each committed
  batch, in the order committed, with its own database connection. A router's
  commit returns as soon as the transaction is durable; pushing the offer to
  the agent's socket, the supervisors' marks, webhook deliveries and metrics
  follow within milliseconds, off the decision's path. The queue is bounded
  (``EVENTS_QUEUE``): a process that publishes faster than its listeners keep
  up waits at commit instead of piling up memory. At exit (and at a Celery
  child's shutdown) what is queued is delivered first.
- ``"inline"`` (tests, embedded mode on SQLite): at commit, in the committing
  thread, before ``transaction.atomic`` returns.

Either way a listener that fails is logged and does not stop the others.
Routing and SLA do not depend on a listener alone: the periodic tick
re-finds waiting cases and due clocks in the database. A process killed
between a commit and its listeners loses that batch's pushes, metrics and
webhook deliveries (with delivery at commit the window is the listeners'
run; with the event thread, also the time the batch waits in the queue).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar, cast, overload

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event; subclasses are frozen dataclasses."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict:
        """The fields as a dict (events hold plain values: no deep copy)."""
        names = _field_names.get(type(self))
        if names is None:
            names = _field_names[type(self)] = tuple(f.name for f in fields(self))
        return {name: getattr(self, name) for name in names}


_field_names: dict[type, tuple[str, ...]] = {}


E = TypeVar("E", bound=Event)
Listener = Callable[[Event], None]
BatchListener = Callable[[list[Event]], None]
_listeners: dict[type[Event], list[Listener]] = defaultdict(list)
_batch_listeners: dict[type[Event] | tuple[type[Event], ...], list[BatchListener]] = defaultdict(list)


def subscribe(event_type: type[E], listener: Callable[[E], None]) -> None:
    # A listener of one type is only ever given events of that type.
    if listener not in _listeners[event_type]:
        _listeners[event_type].append(cast(Listener, listener))


@overload
def subscribe_batch(event_type: type[E], listener: Callable[[list[E]], None]) -> None: ...
@overload
def subscribe_batch(event_type: tuple[type[Event], ...], listener: Callable[[list[Any]], None]) -> None: ...
def subscribe_batch(event_type: type[Event] | tuple[type[Event], ...], listener: Callable[[list[Any]], None]) -> None:
    """Receive the events of one type that a service published together
    (``publish_many_on_commit``) as one list; a single event comes as a list
    of one. With a tuple of types, the events of any of them come as one
    list, in the order published (a listener that answers several kinds of
    event with one query and one push per case)."""
    key = event_type[0] if isinstance(event_type, tuple) and len(event_type) == 1 else event_type
    if listener not in _batch_listeners[key]:
        _batch_listeners[key].append(listener)


def unsubscribe(event_type: type[E], listener: Callable[[E], None]) -> None:
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
        _deliver_batch(_batch_listeners.get(event_type, ()), events)
    for key, listeners in list(_batch_listeners.items()):
        if isinstance(key, tuple) and any(t in by_type for t in key):
            _deliver_batch(listeners, [event for event in batch if type(event) in key])


def _deliver_batch(listeners: Sequence[BatchListener], events: list[Event]) -> None:
    for listener in list(listeners):
        try:
            listener(events)
        except Exception:
            log.exception("batch listener %r failed on %d events", listener, len(events))


def _mode() -> str:
    from django.conf import settings

    mode: str = settings.SWITCHBOARD.get("EVENTS", "inline")
    return mode


def deliver(batch: list[Event]) -> None:
    """Hand a committed batch to the listeners: to this process's event
    thread, or now (see the module's docstring)."""
    if _mode() == "thread":
        dispatcher.submit(batch)
    else:
        dispatch_many(batch)


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: deliver([event]), robust=True)


def publish_many_on_commit(batch: list[Event]) -> None:
    """Publish events that one write produced together (a router batch), so
    listeners can handle them with one query and one send instead of one each."""
    if batch:
        frozen = list(batch)
        transaction.on_commit(lambda: deliver(frozen), robust=True)


class Dispatcher:
    """This process's event thread: one bounded queue, batches delivered in
    the order submitted. Started on first use (after a worker forks)."""

    def __init__(self, size: int | None = None) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self.delivered = 0  # batches delivered (tests and the bench)

    def submit(self, batch: list[Event]) -> None:
        if threading.current_thread() is self._thread:
            # A listener's own commit (an SLA sync raising an escalation):
            # delivered at once, after the batch in hand; waiting for room
            # in a full queue only this thread empties would never end.
            dispatch_many(batch)
            return
        with self._lock:
            if self._queue is None or self._pid != os.getpid() or not self._alive():
                self._start()
            q = self._queue
        assert q is not None  # _start() made it
        q.put(batch)  # blocks while the queue is full: back pressure on the publisher

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        from django.conf import settings

        size: int = self._size or settings.SWITCHBOARD.get("EVENTS_QUEUE", 1000)
        self._queue = queue.Queue(maxsize=size)
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, args=(self._queue,), name="switchboard-events", daemon=True)
        self._thread.start()

    def _run(self, q: queue.Queue) -> None:
        from django.db import close_old_connections, connections

        while True:
            batch = q.get()
            if batch is None:  # stop(): what came before was delivered
                connections.close_all()
                q.task_done()
                return
            try:
                close_old_connections()
                dispatch_many(batch)
            except Exception:  # dispatch_many logs its listeners' errors; this is the connection's
                log.exception("delivering %d events failed", len(batch))
            finally:
                self.delivered += 1
                q.task_done()

    def pending(self) -> int:
        q = self._queue
        return q.unfinished_tasks if q is not None and self._pid == os.getpid() else 0

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every batch submitted so far was delivered (at most
        ``timeout`` seconds); True when nothing is left."""
        import time

        q = self._queue
        if q is None or self._pid != os.getpid() or not self._alive():
            return True
        deadline = time.monotonic() + timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d event batches still undelivered", q.unfinished_tasks)
                    return False
                q.all_tasks_done.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, close the thread's database connection and
        end the thread (the next ``submit`` starts another)."""
        with self._lock:
            q, thread = self._queue, self._thread
            if q is None or self._pid != os.getpid() or not self._alive():
                return
            q.put(None)
        assert thread is not None  # alive
        thread.join(timeout)


dispatcher = Dispatcher()
atexit.register(dispatcher.flush)
