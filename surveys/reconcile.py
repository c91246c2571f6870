"""The surveys a lost event never sent.

A survey leaves from the status event published on a resolution's commit;
a process that dies between the commit and the event sends none. The
periodic tick calls ``send_missing_now_and_then``: at most once a minute per
process it finds the cases resolved in the last ``LOOKBACK`` (and more than
``GRACE`` ago: the event's own work comes first) that should have a survey
for that resolution and have none, and sends them with ``send_survey``.

Exactly once with any number of workers: ``send_survey`` locks the case
(``SKIP LOCKED`` here: a case another worker holds is its work), checks for
the resolution's survey under the lock, and the database keeps one survey
per (case, resolution). The candidate query is bounded (a time range and
``LIMIT``) and leaves out what ``send_survey`` would refuse (calls, public
posts, a closed 24-hour window, a queue with surveys off), so a case it
cannot send is not tried again every minute.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from cases.models import Case, CaseStatus
from cases.selectors import REPLY_WINDOW, WINDOWED_CHANNEL_KINDS
from surveys.models import Survey
from surveys.services import NO_SURVEY_KINDS, send_survey

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=24)
GRACE = timedelta(minutes=1)
LIMIT = 200


def cases_missing_a_survey(now: datetime, *, limit: int = LIMIT) -> list[int]:
    """Ids of the cases resolved within LOOKBACK (and before GRACE ago)
    whose resolution should have a survey and has none, oldest first."""
    has_survey = Survey.objects.filter(case=OuterRef("pk"), resolved_at=OuterRef("resolved_at"))
    window_open = ~Q(channel_kind__in=WINDOWED_CHANNEL_KINDS) | Q(last_customer_message_at__gt=now - REPLY_WINDOW)
    return list(
        Case.objects.filter(
            status=CaseStatus.RESOLVED,
            resolved_at__gte=now - LOOKBACK,
            resolved_at__lte=now - GRACE,
            channel__isnull=False,
        )
        .exclude(channel_kind__in=NO_SURVEY_KINDS)
        .filter(Q(queue__isnull=True) | Q(queue__surveys_enabled=True))
        .filter(window_open)
        .filter(~Exists(has_survey))
        .order_by("resolved_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def send_missing_surveys(*, now: datetime, limit: int = LIMIT) -> int:
    """Send the surveys lost events never sent; how many were sent. A case
    that fails is logged and left for the next run; the others go on."""
    if not settings.SWITCHBOARD["SURVEYS_ENABLED"]:
        return 0
    sent = 0
    for case_id in cases_missing_a_survey(now, limit=limit):
        try:
            survey = send_survey(case_id=case_id, now=now, skip_locked=True)
        except Exception:
            log.exception("sending the missing survey of case %s failed", case_id)
            continue
        if survey is not None:
            log.info("sent the survey of case %s that its event never sent", case_id)
            sent += 1
    return sent


_last_run: list[datetime] = []


def send_missing_now_and_then(now: datetime, *, every: timedelta = timedelta(minutes=1)) -> int:
    """``send_missing_surveys`` at most every ``every`` in this process (the
    tick runs every second); a failure is logged and never stops the tick."""
    if _last_run and now - _last_run[0] < every:
        return 0
    _last_run[:] = [now]
    try:
        return send_missing_surveys(now=now)
    except Exception:
        log.exception("the missing-surveys reconcile failed")
        return 0
