"""The periodic work: one registry of jobs that every app fills in its
``AppConfig.ready()``, run every tick by Celery beat (``config.tasks.tick``,
every second, in production) or by the in-process ticker
(``config/ticker.py``, embedded mode).

``register(name, job, order=…)`` adds a job; ``run_due(now)`` runs every job
once, lowest ``order`` first, each called as ``job(now=now)``. A job finds
what is due from the database itself, and one that must run less often than
every tick keeps its own throttle ("at most once a minute") in its app. A job
that fails is logged and never stops the jobs after it: the next tick tries
it again.

The order, so that each tick works on what the jobs before it settled:

- 10–19 ``connectors``: inbound events never processed, outbound sends due
  for a retry;
- 20–29 ``outhooks``: outbound event webhooks due for an attempt;
- 30–39 ``sla``: warnings, breaches, promises, clocks lost events never
  started;
- 40–49 ``routing``: offers timed out, wrap-ups ended, first replies,
  overflow, waiting cases routed;
- 50–99 housekeeping: explanations purged (``routing``), the hourly facts
  (``reports``), surveys lost events never sent (``surveys``), retention
  (``privacy``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[..., object]  # called as run(now=now)
    order: int


class Schedule:
    """The jobs of one process, by name (registering a name again replaces
    its job)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, name: str, job: Callable[..., object], *, order: int) -> None:
        self._jobs[name] = Job(name=name, run=job, order=order)

    def jobs(self) -> list[Job]:
        """Every job in the order a tick runs them (by order, then name)."""
        return sorted(self._jobs.values(), key=lambda job: (job.order, job.name))

    def run_due(self, now: datetime) -> None:
        """Run every job once, in order; a failing job is logged and the
        next one runs."""
        for job in self.jobs():
            try:
                job.run(now=now)
            except Exception:
                log.exception("periodic job %s failed", job.name)


schedule = Schedule()
register = schedule.register
jobs = schedule.jobs
run_due = schedule.run_due
