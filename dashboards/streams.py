"""The supervisor dashboards' delta streams: coalesced, numbered, heartbeated.

Listeners only *mark* what changed (queues, agents, escalations) in this
process's dirty set; a flusher thread sends a change at once after a quiet
spell, and otherwise at most once per window (``flush_seconds()``, 0.25 s),
computes the marked rows with a few grouped queries (``dashboards.supervision``)
and sends one message per group (``dashboards.scope``), serialized once.
However fast events come, a group gets at most four deltas a second from each
process.

Every message of a group carries the group's sequence number (a Redis
counter with channels-redis, a process counter in embedded mode). Each web
process that holds supervisor sockets sends every ``HEARTBEAT_SECONDS`` a
heartbeat with the current numbers through the same channel layer. A client
that sees a number skip, or a heartbeat ahead of what it has, or no message
at all for a while (Redis gone, or back without its group memberships), asks
for a fresh snapshot and says "stale" until it has one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
REFRESH_SECONDS = 15.0  # time-dependent figures (SLA at risk) recomputed at least this often
SAMPLE_SECONDS = 60.0  # the chart's history
GATHER_SECONDS = 0.01


def flush_seconds() -> float:
    """Coalescing window; 0 (tests, inline background work) flushes at once."""
    default = 0.0 if settings.BACKGROUND_MODE == "inline" else 0.25
    return float(getattr(settings, "SWITCHBOARD_DASHBOARD_FLUSH_SECONDS", default))


# --- Sequence numbers -----------------------------------------------------------


class Sequences:
    """Per-group counters: in Redis when the channel layer is Redis (every
    process numbers one group's messages from one counter), else here."""

    prefix = "switchboard:dash:seq:"

    def __init__(self) -> None:
        self._local: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._client = None
        self._pid = None

    def _redis(self):
        if not settings.REDIS_URL:
            return None
        if self._client is None or self._pid != os.getpid():
            import redis

            self._client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
            self._pid = os.getpid()
        return self._client

    def next(self, group: str) -> int:
        client = self._redis()
        if client is not None:
            return int(client.incr(self.prefix + group))
        with self._lock:
            self._local[group] += 1
            return self._local[group]

    def current(self, groups: Iterable[str]) -> dict[str, int]:
        groups = list(groups)
        client = self._redis()
        if client is not None:
            values = client.mget([self.prefix + g for g in groups]) if groups else []
            return {g: int(v or 0) for g, v in zip(groups, values, strict=True)}
        with self._lock:
            return {g: self._local[g] for g in groups}

    def reset(self) -> None:
        """Forget every counter (tests)."""
        with self._lock:
            self._local.clear()
        client = self._redis()
        if client is not None:
            keys = list(client.scan_iter(match=self.prefix + "*"))
            if keys:
                client.delete(*keys)


sequences = Sequences()


class Watchers:
    """The supervisor groups somebody watches now, across processes. Each
    process holding supervisor sockets marks its groups (in a Redis sorted
    set, one member per group and process, scored by expiry and renewed with
    every heartbeat; in this process without Redis) and takes its mark back
    when its last socket of a group leaves. The flusher computes and sends
    rows only for watched groups: with no supervisor connected, a router's
    commits cost the dashboards nothing but a mark. A supervisor is marked
    before its snapshot is read, so what commits after the snapshot reaches
    it as a delta."""

    key = "switchboard:dash:watching"
    ttl = 3 * HEARTBEAT_SECONDS

    def __init__(self) -> None:
        self._local: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def _member(group: str) -> str:
        import socket

        return f"{group}|{socket.gethostname()}:{os.getpid()}"

    def join(self, groups: Iterable[str]) -> None:
        groups = list(groups)
        with self._lock:
            self._local.update(groups)
        self.renew(groups)

    def leave(self, groups: Iterable[str]) -> None:
        with self._lock:
            self._local.subtract(groups)
            gone = [g for g in set(groups) if self._local[g] <= 0]
            self._local += Counter()  # drop the zeros
        client = sequences._redis()
        if client is not None and gone:
            client.zrem(self.key, *[self._member(g) for g in gone])

    def renew(self, groups: Iterable[str]) -> None:
        groups = list(groups)
        client = sequences._redis()
        if client is not None and groups:
            expiry = time.time() + self.ttl
            client.zadd(self.key, {self._member(g): expiry for g in groups})

    def watched(self) -> set[str]:
        client = sequences._redis()
        if client is None:
            with self._lock:
                return set(self._local)
        now = time.time()
        if int(now) % 60 == 0:
            client.zremrangebyscore(self.key, "-inf", now)  # the expired, now and then
        members = client.zrangebyscore(self.key, now, "+inf")
        return {(m.decode() if isinstance(m, bytes) else m).rsplit("|", 1)[0] for m in members}

    def reset(self) -> None:
        """Forget every watcher (tests)."""
        with self._lock:
            self._local.clear()
        client = sequences._redis()
        if client is not None:
            client.delete(self.key)


watchers = Watchers()


# --- The dirty set and its flusher ----------------------------------------------


class Dirty:
    __slots__ = ("queues", "agents", "cases", "escalations", "all_queues")

    def __init__(self) -> None:
        self.queues: set[int] = set()
        self.agents: set[int] = set()
        self.cases: set[int] = set()
        self.escalations: set[int] = set()
        self.all_queues = False

    def __bool__(self) -> bool:
        return bool(self.queues or self.agents or self.cases or self.escalations or self.all_queues)


class Coalescer:
    """Collects marks from any thread; ``flush`` gets them all at once, at
    most every ``delay`` seconds (at once when ``delay`` is 0)."""

    def __init__(self, flush: Callable[[Dirty], None], delay: Callable[[], float] = flush_seconds) -> None:
        self._flush = flush
        self._delay = delay
        self._dirty = Dirty()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.flushes = 0

    def mark(
        self,
        *,
        queues: Iterable[int | None] = (),
        agents: Iterable[int | None] = (),
        cases: Iterable[int | None] = (),
        escalations: Iterable[int] = (),
        all_queues: bool = False,
    ) -> None:
        with self._cond:
            d = self._dirty
            d.queues.update(q for q in queues if q is not None)
            d.agents.update(a for a in agents if a is not None)
            d.cases.update(c for c in cases if c is not None)
            d.escalations.update(escalations)
            d.all_queues = d.all_queues or all_queues
            inline = self._delay() <= 0
            if not inline:
                self._ensure_thread()
                self._cond.notify()
        if inline:
            self.flush_now()

    def take(self) -> Dirty:
        with self._cond:
            dirty, self._dirty = self._dirty, Dirty()
            return dirty

    def flush_now(self) -> None:
        dirty = self.take()
        if dirty:
            self.flushes += 1
            try:
                self._flush(dirty)
            except Exception:
                log.exception("supervisor dashboard flush failed")

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="dashboard-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Throttle, not debounce: a change after a quiet spell goes out at
        once (after ``GATHER_SECONDS``, so the events of one commit travel
        together); while changes keep coming, one flush per window carries
        them all."""
        # Its own event loop for the whole thread: channels-redis keeps a
        # connection pool per loop, so sends reuse one connection.
        _flusher.loop = asyncio.new_event_loop()
        last = float("-inf")
        while True:
            with self._cond:
                while not self._dirty:
                    self._cond.wait()
            wait = max(GATHER_SECONDS, last + self._delay() - time.monotonic())
            time.sleep(wait)
            last = time.monotonic()
            close_old_connections()  # a broken or too old connection is replaced; a good one kept
            try:
                self.flush_now()
            finally:
                close_old_connections()


_flusher = threading.local()


def _send(sends: list[tuple[str, dict]]) -> None:
    """On the flusher thread's own loop when there is no server loop to hand
    the sends to (Celery workers, scripts); else as every listener sends."""
    from config import background
    from config.fanout import group_send_many

    loop = getattr(_flusher, "loop", None)
    home = background.home_loop()
    if loop is None or (home is not None and home.is_running()):
        group_send_many(sends)
        return
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def send_all() -> None:
        for group, message in sends:
            await layer.group_send(group, message)

    loop.run_until_complete(send_all())


def _publish(dirty: Dirty) -> None:
    watched = watchers.watched()
    if not watched:
        return  # nobody watches: nothing to compute
    _publish_to(dirty, watched)


def _publish_to(dirty: Dirty, watched: set[str]) -> None:
    from django.db.models import Q

    from cases.models import Case
    from dashboards import supervision
    from dashboards.models import Escalation
    from dashboards.scope import groups_for_teams
    from routing.models import Queue

    queue_ids = set(dirty.queues)
    if dirty.cases:
        queue_ids.update(q for q in Case.objects.filter(pk__in=dirty.cases).values_list("queue_id", flat=True) if q)
    if dirty.agents:
        # An agent's status or load changes what its queues have available.
        queue_ids.update(
            Queue.objects.filter(is_active=True)
            .filter(
                Q(team__agents__in=dirty.agents)
                | Q(agents__in=dirty.agents)
                | Q(team__isnull=True, agents__isnull=True)
            )
            .values_list("pk", flat=True)
            .distinct()
        )
    if dirty.all_queues:
        queue_ids.update(Queue.objects.filter(is_active=True).values_list("pk", flat=True))
    queues = supervision.queue_rows(queue_ids)
    agents = supervision.agent_rows(dirty.agents)
    escalations = (
        list(Escalation.objects.filter(pk__in=dirty.escalations).select_related("queue").order_by("pk"))
        if dirty.escalations
        else []
    )

    per_group: dict[str, dict[str, list]] = {}

    def add(groups: list[str], key: str, row: dict) -> None:
        for group in groups:
            if group not in watched:
                continue
            per_group.setdefault(group, {"queues": [], "agents": [], "escalations": []})[key].append(row)

    for row in queues.values():
        add(groups_for_teams([row["team_id"]]), "queues", row)
    for row in agents.values():
        add(groups_for_teams(row["team_ids"]), "agents", row)
    for item in escalations:
        team_id = item.queue.team_id if item.queue_id else None
        add(groups_for_teams([team_id]), "escalations", supervision.escalation_payload(item, team_id))
    if not per_group:
        return
    now = time.time()
    sends = []
    for group, body in per_group.items():
        seq = sequences.next(group)
        text = json.dumps({"type": "delta", "stream": group, "seq": seq, "now": now, **body})
        sends.append((group, {"type": "supervisor.delta", "text": text}))
    _send(sends)


coalescer = Coalescer(_publish)


# --- Heartbeats from the processes that hold supervisor sockets ------------------


class Heartbeat:
    """One asyncio task per process (on the loop of its supervisor sockets)
    while it holds any: heartbeats to its groups, periodic refresh of the
    time-dependent figures, and the per-minute load sample."""

    def __init__(self) -> None:
        self.members: Counter[str] = Counter()
        self._task: asyncio.Task | None = None

    def join(self, groups: Iterable[str]) -> None:
        self.members.update(groups)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run())

    def leave(self, groups: Iterable[str]) -> None:
        self.members.subtract(groups)
        self.members += Counter()  # drop the zeros
        if not self.members and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        last_refresh = last_sample = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.beat()
                if time.monotonic() - last_refresh >= REFRESH_SECONDS:
                    last_refresh = time.monotonic()
                    await sync_to_async(coalescer.mark, thread_sensitive=False)(all_queues=True)
                if time.monotonic() - last_sample >= SAMPLE_SECONDS:
                    last_sample = time.monotonic()
                    await sync_to_async(_sample, thread_sensitive=False)()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the clients notice the silence
                log.warning("supervisor heartbeat failed: %s", exc)

    async def beat(self) -> None:
        from channels.layers import get_channel_layer

        groups = sorted(self.members)
        if not groups:
            return
        await sync_to_async(watchers.renew, thread_sensitive=False)(groups)
        seqs = await sync_to_async(sequences.current, thread_sensitive=False)(groups)
        layer = get_channel_layer()
        now = time.time()
        for group in groups:
            text = json.dumps({"type": "heartbeat", "stream": group, "seq": seqs[group], "now": now})
            await layer.group_send(group, {"type": "supervisor.heartbeat", "text": text})


def _sample() -> None:
    from django.utils import timezone

    from dashboards.supervision import sample_load

    close_old_connections()
    try:
        sample_load(timezone.now())
    finally:
        connections.close_all()


heartbeat = Heartbeat()
