"""Every write of SLA configuration: policies (with their queues and
escalation actions) and business calendars (with their opening hours and
closed dates). The REST API, the admin and ``import_config`` all call these
functions, so what must follow a change happens here once:

- a policy's revision is recorded (clocks started from now on use it);
- a calendar's cached schedules are read anew (``sla.calendars``), and so
  are the router's kept closed queues;
- the configuration audit (``audit.recorder``) records each row saved or
  deleted here, child rows included.

Callers validate (serializers, admin forms, the importer) and present;
children are given as the whole new list of rows (saved or not): rows of
the list are saved, the parent's other rows are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import ProtectedError

from config.api import DomainError
from config.inlines import replace_rows
from routing import configuration as routing_configuration
from sla import services
from sla.models import BusinessCalendar, CustomClosedDate, EscalationAction, OpeningHours, SlaPolicy

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from routing.models import Queue


class InUse(DomainError):
    code = "in_use"


# --- Calendars --------------------------------------------------------------------------------


def save_calendar(
    *,
    calendar: BusinessCalendar,
    hours: Sequence[OpeningHours] | None = None,
    closed_dates: Sequence[CustomClosedDate] | None = None,
) -> BusinessCalendar:
    """Save the calendar as given and, when given, its whole opening hours
    and closed dates; cached schedules are read anew."""
    with transaction.atomic():
        calendar.save()
        if hours is not None:
            replace_rows(OpeningHours, "calendar", calendar, hours)
        if closed_dates is not None:
            replace_rows(CustomClosedDate, "calendar", calendar, closed_dates)
        services.touch_calendar(calendar_id=calendar.pk)
        transaction.on_commit(routing_configuration.forget_kept_state)  # queues it closes or opens
    return calendar


def delete_calendar(*, calendar: BusinessCalendar) -> None:
    """Raises ``InUse`` when an SLA policy or a queue still uses it."""
    try:
        with transaction.atomic():
            calendar.delete()
    except ProtectedError:
        raise InUse(f"calendar {calendar.pk} is used by an SLA policy; change the policy first") from None


# --- Policies ---------------------------------------------------------------------------------


def save_policy(
    *,
    policy: SlaPolicy,
    match_queues: Iterable[Queue] | None = None,
    actions: Sequence[EscalationAction] | None = None,
    changed_by: AbstractBaseUser | None = None,
    now: datetime,
) -> SlaPolicy:
    """Save the policy as given and, when given, its queues and its whole
    list of escalation actions; then record a revision if it differs from
    the last one (running clocks keep theirs)."""
    with transaction.atomic():
        policy.save()
        if match_queues is not None:
            policy.match_queues.set(match_queues)
        if actions is not None:
            replace_rows(EscalationAction, "policy", policy, actions)
        services.record_revision(policy=policy, now=now, user=changed_by)
    return policy


def delete_policy(*, policy: SlaPolicy) -> None:
    """Raises ``InUse`` when clocks were started from it (deactivate it instead)."""
    try:
        with transaction.atomic():
            policy.delete()
    except ProtectedError:
        raise InUse(f"SLA policy {policy.pk} has clocks; deactivate it instead") from None
