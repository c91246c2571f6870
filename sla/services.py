"""Every write to SLA policies and clocks.

Clocks follow their case: ``sync_case`` reads the case as it is now (status,
first response, the last messages each way) and brings its clocks in line —
start, pause, resume, met, stop — so it is idempotent and can be called from
any event about the case, or again by the scan for a case whose event was
missed. Lock order: the case, then its clocks (as everywhere: case first).
Events leave on commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q

from cases.models import OPEN_STATUSES, Case, CaseEvent, CaseStatus, Message
from cases.services import record
from config.events import publish_on_commit
from sla import calendars
from sla.core.hours import FOREVER, NeverOpen, add_business_time, business_time_between
from sla.events import SlaChanged
from sla.models import BusinessCalendar, Clock, PolicyRevision, SlaPolicy, Target

log = logging.getLogger(__name__)

LIVE = [Clock.Status.RUNNING, Clock.Status.PAUSED]
# Clocks whose target is not met yet: running, paused, or breached and still open.
UNMET = Q(status=Clock.Status.RUNNING) | Q(status=Clock.Status.BREACHED, stopped_at__isnull=True)
FINISHED_STATUSES = [CaseStatus.WRAP_UP, CaseStatus.RESOLVED, CaseStatus.CLOSED]


# --- Policies and calendars -------------------------------------------------------


def snapshot(policy: SlaPolicy) -> dict:
    return {
        "name": policy.name,
        "order": policy.order,
        "is_active": policy.is_active,
        "calendar_id": policy.calendar_id,
        "first_response_minutes": policy.first_response_minutes,
        "next_response_minutes": policy.next_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "warning_percent": policy.warning_percent,
        "on_reopen": policy.on_reopen,
        "match_priorities": sorted(policy.match_priorities or []),
        "match_customer_tiers": sorted(policy.match_customer_tiers or []),
        "match_channel_kinds": sorted(policy.match_channel_kinds or []),
        "match_queue_ids": sorted(policy.match_queues.values_list("pk", flat=True)) if policy.pk else [],
        "actions": [
            {"threshold": a.threshold, "kind": a.kind, "queue_id": a.queue_id, "lead_id": a.lead_id}
            for a in policy.actions.order_by("threshold", "pk")
        ]
        if policy.pk
        else [],
    }


def record_revision(*, policy: SlaPolicy, now: datetime, user=None) -> PolicyRevision:
    """Record the policy as it is now, when it differs from its last revision.
    Clocks started from now on use it; running clocks keep theirs."""
    with transaction.atomic():
        SlaPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        state = snapshot(policy)
        last = policy.revisions.order_by("-number").first()
        if last is not None and last.snapshot == state:
            return last
        return PolicyRevision.objects.create(
            policy=policy,
            number=(last.number + 1) if last else 1,
            snapshot=state,
            changed_by=user if user is not None and user.is_authenticated else None,
            changed_at=now,
        )


def current_revision(policy: SlaPolicy, now: datetime) -> PolicyRevision:
    last = policy.revisions.order_by("-number").first()
    return last if last is not None else record_revision(policy=policy, now=now)


def touch_calendar(*, calendar_id: int) -> None:
    """A calendar's hours or dates changed: cached schedules are read anew."""
    from django.utils import timezone

    BusinessCalendar.objects.filter(pk=calendar_id).update(updated_at=timezone.now())


def choose_policy(case: Case) -> SlaPolicy | None:
    """The first active policy, in admin order, whose conditions all match."""
    tier = case.customer.tier if case.customer_id else None
    for policy in SlaPolicy.objects.filter(is_active=True).prefetch_related("match_queues"):
        if policy_matches(
            policy, priority=case.priority, tier=tier, channel_kind=case.channel_kind, queue_id=case.queue_id
        ):
            return policy
    return None


def policy_matches(policy: SlaPolicy, *, priority: int, tier, channel_kind: str, queue_id: int | None) -> bool:
    """Whether all the policy's conditions match (its queues prefetched)."""
    if policy.match_priorities and priority not in policy.match_priorities:
        return False
    if policy.match_customer_tiers and tier not in policy.match_customer_tiers:
        return False
    if policy.match_channel_kinds and channel_kind not in policy.match_channel_kinds:
        return False
    queue_ids = {q.pk for q in policy.match_queues.all()}
    return not queue_ids or queue_id in queue_ids


# --- Clock arithmetic -------------------------------------------------------------


def _schedule(clock: Clock):
    return calendars.schedule_for(clock.revision.snapshot.get("calendar_id"))


def arm(clock: Clock) -> None:
    """Set ``due_at`` and ``warn_at`` of a running clock from what it has used."""
    schedule = _schedule(clock)
    running_since = cast(datetime, clock.running_since)  # a running clock has one (running_clock_has_due)
    left = max(clock.target_seconds - clock.consumed_seconds, 0)
    try:
        clock.due_at = add_business_time(schedule, running_since, timedelta(seconds=left))
    except NeverOpen:
        # A calendar without opening hours (a misconfiguration): the target
        # can never come due; the clock runs without firing.
        log.warning("an SLA calendar never opens: the %s clock of case %s never comes due", clock.target, clock.case_id)
        clock.due_at, clock.warn_at = FOREVER, None
        return
    if clock.warned_at is None:
        warn_left = max(clock.warning_seconds - clock.consumed_seconds, 0)
        clock.warn_at = add_business_time(schedule, running_since, timedelta(seconds=warn_left))
    else:
        clock.warn_at = None


def _used_since_run(clock: Clock, until: datetime) -> float:
    if clock.running_since is None or until <= clock.running_since:
        return 0.0
    return business_time_between(_schedule(clock), clock.running_since, until).total_seconds()


def start_clock(
    *, case: Case, target: str, revision: PolicyRevision, at: datetime, now: datetime, consumed: float = 0.0
) -> Clock | None:
    minutes = revision.snapshot.get(f"{target}_minutes") or 0
    if minutes <= 0:
        return None
    target_seconds = minutes * 60
    clock = Clock(
        case=case,
        policy_id=revision.policy_id,
        revision=revision,
        target=target,
        status=Clock.Status.RUNNING,
        target_seconds=target_seconds,
        warning_seconds=target_seconds * revision.snapshot["warning_percent"] // 100,
        consumed_seconds=consumed,
        started_at=at,
        running_since=at,
    )
    arm(clock)
    clock.save()
    record(
        case=case,
        kind=CaseEvent.Kind.SLA_STARTED,
        now=now,
        target=target,
        policy=revision.snapshot["name"],
        due_at=cast(datetime, clock.due_at).isoformat(),  # armed
    )
    return clock


def pause_clock(clock: Clock, *, now: datetime) -> None:
    clock.consumed_seconds += _used_since_run(clock, now)
    clock.status = Clock.Status.PAUSED
    clock.running_since = clock.due_at = clock.warn_at = None
    clock.save(update_fields=["consumed_seconds", "status", "running_since", "due_at", "warn_at"])
    record(case=clock.case, kind=CaseEvent.Kind.SLA_PAUSED, now=now, target=clock.target)


def resume_clock(clock: Clock, *, now: datetime) -> None:
    clock.status = Clock.Status.RUNNING
    clock.running_since = now
    arm(clock)
    clock.save(update_fields=["status", "running_since", "due_at", "warn_at"])
    record(
        case=clock.case,
        kind=CaseEvent.Kind.SLA_RESUMED,
        now=now,
        target=clock.target,
        due_at=cast(datetime, clock.due_at).isoformat(),  # armed
    )


def finish_clock(clock: Clock, *, at: datetime, now: datetime, met: bool) -> None:
    """The target was met (an answer, a resolution) at ``at``, or no longer
    applies (``met`` False: the case closed before it)."""
    if clock.status == Clock.Status.RUNNING:
        clock.consumed_seconds += _used_since_run(clock, max(at, cast(datetime, clock.running_since)))
    if clock.status in LIVE:
        clock.status = Clock.Status.MET if met else Clock.Status.STOPPED
    clock.running_since = None
    clock.warn_at = None
    clock.stopped_at = at
    clock.save(update_fields=["consumed_seconds", "status", "running_since", "warn_at", "stopped_at"])
    if met and clock.status == Clock.Status.MET:
        record(case=clock.case, kind=CaseEvent.Kind.SLA_MET, now=now, target=clock.target, at=at.isoformat())


# --- Following the case -------------------------------------------------------------


def sync_case(*, case_id: int, now: datetime) -> Case | None:
    """Bring the case's clocks in line with the case (its own transaction)."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=case_id).first()
        if case is None:
            return None
        sync_locked(case, now=now)
        return case


def sync_locked(case: Case, *, now: datetime) -> None:
    """``sync_case`` for a case the caller has locked."""
    clock: Clock | None
    revision: PolicyRevision | None
    clocks = list(Clock.objects.filter(case=case).select_related("revision").order_by("pk"))
    for clock in clocks:
        clock.case = case
    live = {c.target: c for c in clocks if c.status in LIVE}
    last_in, last_out = _last_messages(case)
    finished = case.status in FINISHED_STATUSES

    if not clocks and case.status in OPEN_STATUSES:
        policy = choose_policy(case)
        if policy is not None:
            revision = current_revision(policy, now)
            if case.first_response_at is None:
                start_clock(case=case, target=Target.FIRST_RESPONSE, revision=revision, at=case.created_at, now=now)
            start_clock(case=case, target=Target.RESOLUTION, revision=revision, at=case.created_at, now=now)
            _refresh_due(case)
            return

    # Responses.
    first = live.get(Target.FIRST_RESPONSE)
    if first is not None:
        if case.first_response_at is not None:
            finish_clock(first, at=case.first_response_at, now=now, met=True)
        elif finished:
            finish_clock(first, at=now, now=now, met=False)
    nxt = live.get(Target.NEXT_RESPONSE)
    if nxt is not None:
        if last_out is not None and last_out >= nxt.started_at:
            finish_clock(nxt, at=last_out, now=now, met=True)
        elif finished:
            finish_clock(nxt, at=now, now=now, met=False)
    else:
        answered = max(filter(None, [last_out, case.first_response_at]), default=None)
        started_for = max((c.started_at for c in clocks if c.target == Target.NEXT_RESPONSE), default=None)
        if (
            not finished
            and case.status in OPEN_STATUSES
            and answered is not None
            and last_in is not None
            and last_in > answered
            and (started_for is None or started_for < last_in)
        ):
            policy_revision = _revision_for_new_clock(case, clocks, now)
            if policy_revision is not None:
                start_clock(case=case, target=Target.NEXT_RESPONSE, revision=policy_revision, at=last_in, now=now)
    # Breached clocks end when their target is reached or the case finishes.
    for clock in clocks:
        if clock.status == Clock.Status.BREACHED and clock.stopped_at is None:
            reached = (
                (clock.target == Target.FIRST_RESPONSE and case.first_response_at is not None)
                or (clock.target == Target.NEXT_RESPONSE and last_out is not None and last_out >= clock.started_at)
                or finished
            )
            if reached:
                finish_clock(clock, at=now, now=now, met=False)

    # Resolution.
    resolution = live.get(Target.RESOLUTION)
    if resolution is not None:
        if finished:
            finish_clock(resolution, at=case.resolved_at or now, now=now, met=True)
        elif case.status == CaseStatus.WAITING and resolution.status == Clock.Status.RUNNING:
            pause_clock(resolution, now=now)
        elif case.status != CaseStatus.WAITING and resolution.status == Clock.Status.PAUSED:
            resume_clock(resolution, now=now)
    elif case.status in OPEN_STATUSES:
        previous = [c for c in clocks if c.target == Target.RESOLUTION]
        if previous:  # re-opened after its resolution
            last = previous[-1]
            revision = _revision_for_new_clock(case, clocks, now)
            if revision is not None:
                how = revision.snapshot.get("on_reopen", SlaPolicy.OnReopen.RESTART)
                if how != SlaPolicy.OnReopen.NOTHING:
                    consumed = last.consumed_seconds if how == SlaPolicy.OnReopen.CONTINUE else 0.0
                    clock = start_clock(
                        case=case, target=Target.RESOLUTION, revision=revision, at=now, now=now, consumed=consumed
                    )
                    if clock is not None and case.status == CaseStatus.WAITING:
                        pause_clock(clock, now=now)
    _refresh_due(case)


def _revision_for_new_clock(case: Case, clocks: list[Clock], now: datetime) -> PolicyRevision | None:
    """The policy chosen when the case started, as it reads now (a policy
    change applies to new clocks); None if the case has no policy."""
    policy_id = next((c.policy_id for c in clocks if c.policy_id), None)
    policy = SlaPolicy.objects.filter(pk=policy_id).first() if policy_id else None
    if policy is None:
        return clocks[-1].revision if clocks else None
    return current_revision(policy, now)


def _last_messages(case: Case) -> tuple[datetime | None, datetime | None]:
    found = Message.objects.filter(case=case).aggregate(
        last_in=Max("created_at", filter=Q(direction=Message.Direction.INBOUND)),
        last_out=Max("created_at", filter=Q(direction=Message.Direction.OUTBOUND)),
    )
    return found["last_in"], found["last_out"]


def _refresh_due(case: Case) -> None:
    """Case.sla_due_at = the earliest due time of a target not met yet; a
    waiting case's rank follows it (the router serves by time to breach)."""
    due = Clock.objects.filter(UNMET, case=case, due_at__lt=FOREVER).order_by("due_at").values_list("due_at", flat=True)
    value = due.first()
    if value == case.sla_due_at:
        return
    case.sla_due_at = value
    fields = ["sla_due_at"]
    if case.status == CaseStatus.QUEUED:
        from routing.ranking import rank_of

        case.route_rank = rank_of(case, tier=case.customer.tier)
        fields.append("route_rank")
    Case.objects.filter(pk=case.pk).update(**{f: getattr(case, f) for f in fields})
    publish_on_commit(SlaChanged(case_id=case.pk, sla_due_at=value.isoformat() if value else None))


# --- Cases whose clocks never started -------------------------------------------------

RECONCILE_LOOKBACK = timedelta(days=7)
RECONCILE_GRACE = timedelta(minutes=1)
RECONCILE_LIMIT = 200


def start_missing_clocks(*, now: datetime, limit: int = RECONCILE_LIMIT) -> int:
    """Open cases created within RECONCILE_LOOKBACK (and before
    RECONCILE_GRACE ago: their CaseCreated comes first) with no clock at all
    while a policy applies: a lost event. Each is synced (``sync_case``,
    idempotent under the case's lock); a case no policy applies to is left
    alone. At most ``limit`` cases synced a run; how many got clocks."""
    policies = list(SlaPolicy.objects.filter(is_active=True).prefetch_related("match_queues"))
    if not policies:
        return 0
    candidates = (
        Case.objects.filter(
            status__in=OPEN_STATUSES,
            created_at__gte=now - RECONCILE_LOOKBACK,
            created_at__lte=now - RECONCILE_GRACE,
        )
        .filter(~Exists(Clock.objects.filter(case=OuterRef("pk"))))
        .order_by("created_at", "pk")
        .values_list("pk", "priority", "customer__tier", "channel_kind", "queue_id")
    )
    due = [
        row[0]
        for row in candidates
        if any(policy_matches(p, priority=row[1], tier=row[2], channel_kind=row[3], queue_id=row[4]) for p in policies)
    ]
    started = 0
    for case_id in due[:limit]:
        sync_case(case_id=case_id, now=now)
        if Clock.objects.filter(case_id=case_id).exists():
            log.info("started the SLA clocks of case %s that its event never started", case_id)
            started += 1
    return started
