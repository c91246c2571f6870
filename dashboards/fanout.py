"""Sending to websocket groups from synchronous code (listeners run at commit).

In embedded mode the in-memory channel layer lives on the ASGI server's event
loop, so sends made from worker threads are handed to that loop. Elsewhere
(Celery workers with channels-redis, tests) ``async_to_sync`` does the job.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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

    loop = background.home_loop()
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None:
            try:
                asyncio.run_coroutine_threadsafe(send_all(), loop)
            except RuntimeError:
                log.warning("event loop gone; dropped %d sends", len(sends))
            return
    async_to_sync(send_all)()
