"""The SLA app follows the case lifecycle through the cases app's events:
each one brings the case's clocks in line with the case (``sync_case``).
Events arrive after the case's commit; the scan re-checks a case before it
fires anything, so a lost event never fires a wrong warning or breach.

Status changes come in batches (a router batch publishes one per case): only
those that matter to a clock cost more than one query for the whole batch.
"""

from __future__ import annotations

import threading
import time

from django.utils import timezone

from cases.events import CaseCreated, CaseStatusChanged, MessageAdded
from config import events

# Statuses that pause or end a clock; any other matters only to a paused clock.
STOPPING = {"waiting", "wrap_up", "resolved", "closed"}
# Offered: only a queued case is offered, and queueing already resumed any
# paused clock (queued is not a stopping status). A router batch of offers
# costs the SLA app nothing.
UNCHANGED = {"offered"}


def _sync(case_ids) -> None:
    from sla.services import sync_case

    now = timezone.now()
    for case_id in dict.fromkeys(case_ids):
        sync_case(case_id=case_id, now=now)


# A new case's first message commits with the case: CaseCreated and then its
# MessageAdded are dispatched one after the other by the same commit, in this
# thread. The first sync already saw the message; the second is skipped.
_just_synced = threading.local()


def on_case_created(event: CaseCreated) -> None:
    _sync([event.case_id])
    _just_synced.case = (event.case_id, time.monotonic())


def on_message_added(event: MessageAdded) -> None:
    if event.direction not in ("in", "out"):
        return
    synced = getattr(_just_synced, "case", None)
    _just_synced.case = None
    if synced is not None and synced[0] == event.case_id and time.monotonic() - synced[1] < 1.0:
        return
    _sync([event.case_id])


def on_status_changes(batch: list[CaseStatusChanged]) -> None:
    from sla.models import Clock

    relevant = [e.case_id for e in batch if e.status in STOPPING]
    others = [e.case_id for e in batch if e.status not in STOPPING and e.status not in UNCHANGED]
    if others:
        relevant += list(
            Clock.objects.filter(case_id__in=others, status=Clock.Status.PAUSED).values_list("case_id", flat=True)
        )
    if relevant:
        _sync(relevant)


def connect() -> None:
    events.subscribe(CaseCreated, on_case_created)
    events.subscribe(MessageAdded, on_message_added)
    events.subscribe_batch(CaseStatusChanged, on_status_changes)
