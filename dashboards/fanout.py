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


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


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
        for group, message in sends:
            await layer.group_send(group, message)

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
                for group, message in sends:
                    await layer.group_send(group, message)
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
