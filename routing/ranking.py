"""The waiting line: a case's rank among waiting cases (``routing.core.rank``),
a case starting to wait, and where a waiting case stands in its queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q

from cases.models import Case, CaseEvent, CaseStatus, Customer
from cases.services import record
from config import background
from config.events import publish_on_commit
from routing import core
from routing.events import case_status_changed
from routing.models import Offer, Queue, RoutingSettings


def _rank(case: Case, *, queue_priority: int, tier: str | None, aging_seconds: int) -> datetime:
    queued_at = case.queued_at or case.created_at
    value = core.rank(
        queued_at=queued_at.timestamp(),
        queue_priority=queue_priority,
        priority=case.priority,
        vip=tier == Customer.Tier.VIP,
        aging_seconds=aging_seconds,
        sla_due_at=case.sla_due_at.timestamp() if case.sla_due_at else None,
    )
    return datetime.fromtimestamp(value, tz=UTC)


def rank_of(case: Case, *, settings: RoutingSettings | None = None, tier: str | None = None) -> datetime:
    """The case's place among waiting cases (``routing.core.rank``)."""
    settings = settings or RoutingSettings.current()
    if tier is None:
        tier = Customer.objects.filter(pk=case.customer_id).values_list("tier", flat=True).first()
    queue_priority = (
        Queue.objects.filter(pk=case.queue_id).values_list("priority", flat=True).first() if case.queue_id else None
    )
    return _rank(case, queue_priority=queue_priority or 3, tier=tier, aging_seconds=settings.aging_seconds)


def refresh_ranks(*, case_ids: list[int] | None = None) -> int:
    """Recompute the rank of waiting cases (after the aging setting, a queue's
    priority or an SLA due time changed)."""
    settings = RoutingSettings.current()
    qs = Case.objects.filter(status=CaseStatus.QUEUED).select_related("customer", "queue")
    if case_ids is not None:
        qs = qs.filter(pk__in=case_ids)
    changed = []
    for case in qs.iterator(chunk_size=2000):
        case.route_rank = _rank(
            case,
            queue_priority=case.queue.priority if case.queue_id else 3,  # type: ignore[union-attr]  # queue_id checked
            tier=case.customer.tier,
            aging_seconds=settings.aging_seconds,
        )
        changed.append(case)
        if len(changed) >= 2000:
            Case.objects.bulk_update(changed, ["route_rank"])
            changed.clear()
    if changed:
        Case.objects.bulk_update(changed, ["route_rank"])
    return qs.count()


def queue_case(*, case: Case, now: datetime, excluded_agent_id: int | None = None) -> Case:
    """The case starts waiting for an agent; the router is asked after commit."""
    from routing.tasks import route_case as route_case_task

    case.status = CaseStatus.QUEUED
    case.assignee = None
    case.queued_at = now
    if excluded_agent_id is not None:
        scope = dict(case.overflow or {})
        scope["excluded"] = sorted(set(scope.get("excluded", [])) | {excluded_agent_id})
        case.overflow = scope
    case.route_rank = rank_of(case)
    case.save(update_fields=["status", "assignee", "queued_at", "route_rank", "overflow", "updated_at"])
    record(case=case, kind=CaseEvent.Kind.QUEUED, now=now, queue=case.queue.name if case.queue_id else None)  # type: ignore[union-attr]  # queue_id checked
    publish_on_commit(case_status_changed(case))
    background.enqueue(route_case_task, case_id=case.pk)
    return case


def queue_position(case: Case, now: datetime) -> dict:
    """Where a waiting case stands in its queue, and a wait estimate from the
    queue's pace over the last hour (None until there is a pace to go by)."""
    if case.status != CaseStatus.QUEUED or case.route_rank is None:
        return {"position": None, "estimated_wait_seconds": None, "status": case.status}
    ahead = (
        Case.objects.filter(status=CaseStatus.QUEUED, queue_id=case.queue_id)  # type: ignore[misc]  # None: no queue
        .filter(Q(route_rank__lt=case.route_rank) | Q(route_rank=case.route_rank, pk__lt=case.pk))
        .count()
    )
    hour_ago = now - timedelta(hours=1)
    served = (
        Offer.objects.filter(case__queue_id=case.queue_id, created_at__gte=hour_ago)  # type: ignore[misc]  # as above
        .filter(status__in=[Offer.Status.PENDING, Offer.Status.ACCEPTED])
        .aggregate(n=Count("case_id", distinct=True))
    )
    estimate = None
    if served["n"]:
        estimate = round((ahead + 1) * 3600 / served["n"])
    return {"position": ahead + 1, "estimated_wait_seconds": estimate, "status": case.status}
