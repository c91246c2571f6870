"""A Celery app for the fault tests (``celery -A tests.faults.paused_worker
worker``): the project's app, whose pool processes stop at a known point in
the middle of a task — with its writes made but not committed — write
``FAULT_REACHED_FILE`` (its pid) and sleep there until the test kills the
worker or that process. Only the first task stops: one run again goes through.

``FAULT_PAUSE_AT``: ``ingest`` (a case and its message stored, inside the
inbound event's transaction) or ``routing`` (a batch's offers inserted,
inside the router's transaction)."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]


def _pausing(function):
    @functools.wraps(function)
    def paused(*args, **kwargs):
        result = function(*args, **kwargs)
        reached = Path(os.environ["FAULT_REACHED_FILE"])
        if not reached.exists():  # once: a task run again after the kill goes through
            reached.write_text(str(os.getpid()))
            time.sleep(600)  # killed here
        return result

    return paused


@worker_process_init.connect
def _pause_in_the_middle(**kwargs) -> None:
    where = os.environ.get("FAULT_PAUSE_AT")
    if where == "ingest":
        from cases import services

        services.receive_message = _pausing(services.receive_message)
    elif where == "routing":
        from routing import batch

        batch.apply_decisions = _pausing(batch.apply_decisions)
    else:
        raise RuntimeError(f"FAULT_PAUSE_AT must be ingest or routing, not {where!r}")
