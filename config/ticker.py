"""The embedded-mode ticker: the periodic scan of ``routing.tasks.tick``,
run on the server's event loop every few seconds (Celery beat does this in
production)."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections

log = logging.getLogger(__name__)


def _tick_once() -> None:
    from routing.tasks import tick

    close_old_connections()
    try:
        tick.run()
    finally:
        close_old_connections()


async def run_ticker(every_seconds: float) -> None:
    while True:
        try:
            await sync_to_async(_tick_once, thread_sensitive=False)()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tick failed")
        await asyncio.sleep(every_seconds)
