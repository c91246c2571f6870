"""Sending to websocket groups from synchronous code (listeners run at commit).

In embedded mode the in-memory channel layer lives on the ASGI server's event
loop, so sends made from worker threads are handed to that loop. In other
processes with background work (Celery workers and routers with
channels-redis) sends go to this process's own sender: one event-loop thread
that keeps the channel layer's Redis connections open and sends in the order
given, so a router's commit does not wait for Redis nor open a connection per
batch. In tests (background work inline) ``async_to_sync`` sends before the
listener returns.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from config import background

log = logging.getLogger(__name__)


def group_send(group: str, message: dict) -> None:
    group_send_many([(group, message)])


def group_send_many(sends: list[tuple[str, dict]]) -> None:
    """Several sends in one go (one hop to the event loop, not one each)."""
    if not sends:
        return
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        await send_many(layer, sends)

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = background.home_loop()
    if loop is not None and loop.is_running() and running is None:
        try:
            asyncio.run_coroutine_threadsafe(send_all(), loop)
        except RuntimeError:
            log.warning("event loop gone; dropped %d sends", len(sends))
        return
    if running is None and settings.BACKGROUND_MODE == "celery":
        _sender.submit(layer, list(sends))
        return
    async_to_sync(send_all)()


async def send_many(layer, sends: list[tuple[str, dict]]) -> None:
    """``group_send`` for each (group, message), in order. With channels-redis
    (one Redis), pipelined: every group's members are read in one round trip
    and every message stored in one more, where ``group_send`` takes two to
    four round trips per group. The same commands and the same Lua script as
    channels-redis 4.3's own ``group_send`` (pinned), so capacity, expiry and
    the message format are its own."""
    if len(sends) > 1 and _pipelinable(layer):
        await _redis_send_many(layer, sends)
        return
    for group, message in sends:
        await layer.group_send(group, message)


def _pipelinable(layer) -> bool:
    from channels_redis.core import RedisChannelLayer

    return type(layer) is RedisChannelLayer and layer.ring_size == 1


_GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""


async def _redis_send_many(layer, sends: list[tuple[str, dict]]) -> None:
    import time

    connection = layer.connection(0)
    now = int(time.time())
    read = connection.pipeline(transaction=False)
    for group, _ in sends:
        assert layer.require_valid_group_name(group), "Group name not valid"
        key = layer._group_key(group)
        read.zremrangebyscore(key, min=0, max=now - layer.group_expiry)
        read.zrange(key, 0, -1)
    answers = await read.execute()
    write = connection.pipeline(transaction=False)
    writes = 0
    for n, (_, message) in enumerate(sends):
        channels = [name.decode("utf8") for name in answers[2 * n + 1]]
        if not channels:
            continue
        by_connection, messages, capacities = layer._map_channel_keys_to_connection(channels, message)
        keys = [key for index in sorted(by_connection) for key in by_connection[index]]
        for key in keys:
            write.zremrangebyscore(key, min=0, max=int(time.time()) - int(layer.expiry))
        args = [messages[key] for key in keys] + [capacities[key] for key in keys] + [time.time(), layer.expiry]
        write.eval(_GROUP_SEND_LUA, len(keys), *keys, *args)
        writes += 1
    if writes:
        await write.execute()


class _Sender:
    """This process's sending thread: one event loop, one queue, sends in the
    order submitted. Started on first use (after a worker forks); at exit it
    gets a moment to send what is queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pid: int | None = None

    def submit(self, layer, sends: list[tuple[str, dict]]) -> None:
        import os

        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            loop, queue = self._loop, self._queue
        loop.call_soon_threadsafe(queue.put_nowait, (layer, sends))

    def _start(self) -> None:
        import os

        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop, self._queue = loop, asyncio.Queue()
            ready.set()
            loop.run_until_complete(self._drain(self._queue))

        self._pid = os.getpid()
        threading.Thread(target=run, name="switchboard-fanout", daemon=True).start()
        ready.wait()

    @staticmethod
    async def _drain(queue: asyncio.Queue) -> None:
        while True:
            layer, sends = await queue.get()
            try:
                await send_many(layer, sends)
            except Exception:
                log.exception("dropped %d channel-layer sends", len(sends))
            finally:
                queue.task_done()

    def flush(self, timeout: float = 2.0) -> None:
        """Wait (a little) until everything submitted was sent."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or not loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(queue.join(), loop).result(timeout)
        except Exception:
            log.warning("channel-layer sends still queued at exit")


_sender = _Sender()
atexit.register(_sender.flush)
