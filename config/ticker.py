"""The embedded-mode ticker: the periodic jobs of ``config.schedule``, run on
the server's event loop every few seconds (Celery beat does this in
production, through ``config.tasks.tick``)."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone

from config import schedule

log = logging.getLogger(__name__)


def _tick_once() -> None:
    close_old_connections()
    try:
        schedule.run_due(timezone.now())
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
