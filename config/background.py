"""Where background work runs.

``enqueue(task, **kwargs)`` schedules a Celery task *after the current
transaction commits*. In production (``BACKGROUND_MODE = "celery"``) it goes to
the broker; in embedded mode (``"thread"``) it runs in an in-process thread
pool; in tests (``"inline"``) it runs at commit in the committing thread.
Nothing that must not be lost depends on this alone: the periodic tick
re-finds unprocessed inbound events and waiting cases from the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_home_loop: asyncio.AbstractEventLoop | None = None


def set_home_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Record the ASGI server's event loop (embedded mode), so work done in
    threads can hand channel-layer sends back to it."""
    global _home_loop
    _home_loop = loop


def home_loop() -> asyncio.AbstractEventLoop | None:
    return _home_loop


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="switchboard-bg")
        return _executor


def _run_in_thread(task: Any, kwargs: dict) -> None:
    close_old_connections()
    try:
        task.run(**kwargs)
    except Exception:
        log.exception("background task %s failed", task.name)
    finally:
        close_old_connections()


def run_now(task: Any, **kwargs: Any) -> None:
    """Run a task according to the mode, without waiting for a commit."""
    mode = settings.BACKGROUND_MODE
    if mode == "celery":
        task.apply_async(kwargs=kwargs)
    elif mode == "thread":
        _pool().submit(_run_in_thread, task, kwargs)
    else:
        task.run(**kwargs)


def enqueue(task: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: run_now(task, **kwargs), robust=True)


def shutdown() -> None:
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor.shutdown(wait=True, cancel_futures=False)
            _executor = None
