"""The planning pool: each router thread's kept view of every routable
agent, planned on between full reads, and the reset of all the router's
kept state in this process."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from routing import queue_settings
from routing.agent_states import agent_states
from routing.core import AgentPool, AgentState
from routing.models import RoutingSettings

log = logging.getLogger(__name__)


class ThreadPool:
    """One thread's planning pool and its bookkeeping."""

    __slots__ = ("pool", "key", "loaded_at", "seen", "ready", "refreshing")

    def __init__(self, pool: AgentPool, key: tuple, loaded_at: float, seen: int) -> None:
        self.pool = pool
        self.key = key
        self.loaded_at = loaded_at
        self.seen = seen  # changes (``_Planning.changed``) already read into the pool
        self.ready: tuple | None = None  # a newer full read made in the background
        self.refreshing = False


class _Planning:
    """Each thread's planning pool: every routable agent's state as read at
    most about ``ROUTER_STATE_MS`` ago, kept current with the work this
    thread handed out and the fresh states it read under locks since. Batches
    plan on it instead of reading a thousand agents each time; what is written
    is always decided again on the chosen agents' states read under their
    locks, so a stale pool can cost a better choice for a moment, never a
    promise.

    - Agents this process changed (``changed``: presence, status, capacity,
      skills, an offer closed, a case resolved) are read again, alone, before
      the next plan.
    - When the pool is older than ``ROUTER_STATE_MS``, a background thread
      reads every agent and the planning thread takes the new pool at its next
      batch: no decision waits for a full read, but the first. Reads are
      spaced by at least ``REFRESH_SPACING`` times as long as the last one
      took (its own CPU and the database's work summing every agent's held
      cases and pending offers), so that however many agents and how much
      work there is, the background reads cost a router and the database at
      most about 5 % of a core each (what it writes is decided on the chosen
      agents' states read under their locks either way).
    - ``clear`` (memberships, settings) makes every thread read all anew."""

    LOG_LIMIT = 10_000
    REFRESH_SPACING = 20

    def __init__(self) -> None:
        self.read_seconds = 0.0  # seconds the last full read in the background took (the longer of wall and CPU)
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._log: list[int] = []  # agent ids changed in this process, oldest first
        self._log_start = 0  # the sequence number of _log[0]
        self._requests: queue.SimpleQueue | None = None

    def pool(self, now: datetime, settings: RoutingSettings) -> AgentPool:
        from django.conf import settings as django_settings

        ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
        key = (self._generation, settings.fair_cap_assignments, settings.fair_cap_window_minutes)
        mine: ThreadPool | None = getattr(self._local, "mine", None)
        if mine is None or ttl <= 0 or mine.key != key:
            return self._load(now, settings, key).pool
        if mine.ready is not None:
            pool, loaded_at, seen, ready_key = mine.ready
            mine.ready = None
            if ready_key == key:
                mine.pool, mine.loaded_at, mine.seen = pool, loaded_at, seen
        seen, changed = self._changes_since(mine.seen)
        if seen is None:
            return self._load(now, settings, key).pool
        if changed:
            states = agent_states(now, changed, settings=settings)
            mine.pool.remove(set(changed) - {state.agent_id for state in states})
            mine.pool.update(states)
            mine.seen = seen
        spacing = max(ttl, self.REFRESH_SPACING * self.read_seconds)
        if time.monotonic() - mine.loaded_at >= spacing and not mine.refreshing:
            mine.refreshing = True
            self._refresh_later(mine, settings, key)
        return mine.pool

    def _load(self, now: datetime, settings: RoutingSettings, key: tuple) -> ThreadPool:
        seen = self._sequence()
        started = time.monotonic()
        mine = self._local.mine = ThreadPool(AgentPool(agent_states(now, settings=settings)), key, started, seen)
        return mine

    def this_thread(self) -> ThreadPool | None:
        """This thread's pool and its bookkeeping (None before its first plan)."""
        return getattr(self._local, "mine", None)

    def sync(self, states: Iterable[AgentState], gone: Iterable[int] = ()) -> None:
        """Fresh states read under lock (with the work just handed out) go
        into this thread's pool; agents found no longer routable leave it."""
        mine = getattr(self._local, "mine", None)
        if mine is not None:
            mine.pool.remove(gone)
            mine.pool.update(states)

    # --- what changed -----------------------------------------------------------

    def changed(self, agent_id: int | None) -> None:
        """This process changed an agent (None: some agent, unknown)."""
        if agent_id is None:
            self.clear()
            return
        with self._lock:
            self._log.append(agent_id)
            if len(self._log) > self.LOG_LIMIT:
                drop = len(self._log) // 2
                del self._log[:drop]
                self._log_start += drop

    def clear(self, *args, **kwargs) -> None:
        self._generation += 1

    def _sequence(self) -> int:
        with self._lock:
            return self._log_start + len(self._log)

    def _changes_since(self, seen: int) -> tuple[int | None, list[int]]:
        with self._lock:
            if seen < self._log_start:
                return None, []  # fell behind the log: read everything
            return self._log_start + len(self._log), list(set(self._log[seen - self._log_start :]))

    # --- reading every agent in the background ------------------------------------

    def _refresh_later(self, mine: ThreadPool, settings: RoutingSettings, key: tuple) -> None:
        with self._lock:
            if self._requests is None:
                self._requests = queue.SimpleQueue()
                threading.Thread(target=self._refresher, name="switchboard-router-state", daemon=True).start()
            requests = self._requests
        requests.put((mine, settings, key))

    def _refresher(self) -> None:
        from django.db import close_old_connections, connections
        from django.utils import timezone

        requests = cast("queue.SimpleQueue[Any]", self._requests)  # made before this thread starts
        while True:
            mine, settings, key = requests.get()
            try:
                close_old_connections()
                seen = self._sequence()
                started, cpu = time.monotonic(), time.thread_time()
                pool = AgentPool(agent_states(timezone.now(), settings=settings))
                mine.ready = (pool, started, seen, key)
                self.read_seconds = max(time.thread_time() - cpu, time.monotonic() - started)
            except Exception:
                log.exception("reading agents' routing state failed; the router reads it itself next time")
                mine.loaded_at = float("-inf")
                self.clear()
            finally:
                # Its own connection is not kept between reads (a second apart):
                # nothing holds a database session open in the background.
                connections.close_all()
                mine.refreshing = False


planning = _Planning()


def reset() -> None:
    """Forget all the router keeps in this process: every thread's planning
    pool, and the queues, routing settings and opening hours kept in
    ``routing.queue_settings``. The next plan reads everything anew."""
    planning.clear()
    queue_settings.forget()
