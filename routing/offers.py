"""Offers: accept, decline, time out, cancel; an agent's pending offers.

Lock order, as everywhere in the router: case, then agent, then offer."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from agents.events import AgentChanged
from agents.models import Agent
from cases.models import Case, CaseEvent, CaseStatus
from cases.services import record
from config import background
from config.api import Invalid, NotFound
from config.events import publish_on_commit
from routing.errors import OfferUnavailable
from routing.events import CaseAssigned, OfferClosed, case_status_changed
from routing.models import DeclineReason, Offer, RoutingSettings


def _lock_offer(*, offer_id: int, agent: Agent) -> tuple[Case, Offer]:
    """Lock case, agent, offer, in that order, for an answer to an offer."""
    case_id = Offer.objects.filter(pk=offer_id, agent=agent).values_list("case_id", flat=True).first()
    if case_id is None:
        raise NotFound(f"no offer {offer_id} for you")
    case = Case.objects.select_for_update(of=("self",)).select_related("queue").get(pk=case_id)
    Agent.objects.select_for_update().filter(pk=agent.pk).first()
    offer = Offer.objects.select_for_update().get(pk=offer_id)
    return case, offer


def accept_offer(*, offer_id: int, agent: Agent, now: datetime) -> Case:
    """Assign the offered case. An offer past its due time is timed out (and
    the case re-routed) before the refusal, rather than left for the scan."""
    with transaction.atomic():
        case, offer = _lock_offer(offer_id=offer_id, agent=agent)
        if offer.status != Offer.Status.PENDING:
            raise OfferUnavailable(f"offer {offer_id} is {offer.status}")
        if offer.expires_at > now:
            return _accept(case=case, offer=offer, agent=agent, now=now)
        # Too late counts as missed, as if the scan had come first.
        _missed(agent_id=agent.pk, now=now, settings=RoutingSettings.current())
        _close_offer(case=case, offer=offer, status=Offer.Status.TIMED_OUT, now=now)
    raise OfferUnavailable(f"offer {offer_id} timed out")


def _accept(*, case: Case, offer: Offer, agent: Agent, now: datetime) -> Case:
    offer.status = Offer.Status.ACCEPTED
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at"])
    Agent.objects.filter(pk=agent.pk, missed_offers__gt=0).update(missed_offers=0)
    record(case=case, kind=CaseEvent.Kind.OFFER_ACCEPTED, now=now, agent=agent, offer_id=offer.pk)
    publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=agent.pk, status=offer.status))
    return assign(case=case, agent=agent, now=now, via=f"offer {offer.pk}")


def assign(*, case: Case, agent: Agent, now: datetime, via: str, actor=None, **data) -> Case:
    case.status = CaseStatus.ASSIGNED
    case.assignee = agent
    if case.first_assigned_at is None:
        case.first_assigned_at = now
    case.save(update_fields=["status", "assignee", "first_assigned_at", "updated_at"])
    Agent.objects.filter(pk=agent.pk, idle_since__isnull=False).update(idle_since=None)
    record(case=case, kind=CaseEvent.Kind.ASSIGNED, now=now, agent=agent, actor=actor, via=via, **data)
    publish_on_commit(
        CaseAssigned(case_id=case.pk, agent_id=agent.pk, queue_id=case.queue_id, queued_at=case.queued_at)
    )
    publish_on_commit(case_status_changed(case))
    return case


def decline_reasons() -> list[str]:
    return list(DeclineReason.objects.filter(is_active=True).values_list("label", flat=True))


def decline_offer(*, offer_id: int, agent: Agent, reason: str, now: datetime) -> Offer:
    """Decline with a reason; when admins configured a list of reasons, the
    reason must be one of them."""
    reason = (reason or "").strip()
    allowed = decline_reasons()
    if allowed and reason not in allowed:
        raise Invalid(f"reason must be one of: {', '.join(allowed)}")
    with transaction.atomic():
        case, offer = _lock_offer(offer_id=offer_id, agent=agent)
        if offer.status != Offer.Status.PENDING:
            raise OfferUnavailable(f"offer {offer_id} is {offer.status}")
        Agent.objects.filter(pk=agent.pk, missed_offers__gt=0).update(missed_offers=0)
        _close_offer(case=case, offer=offer, status=Offer.Status.DECLINED, now=now, reason=reason[:200])
    return offer


def _close_offer(*, case: Case, offer: Offer, status: str, now: datetime, reason: str = "") -> None:
    """Decline, time out or cancel: the case waits again, without this agent."""
    from routing.tasks import route_agent as route_agent_task
    from routing.tasks import route_case as route_case_task

    offer.status = status
    offer.responded_at = now
    offer.decline_reason = reason
    offer.save(update_fields=["status", "responded_at", "decline_reason"])
    kind = {
        Offer.Status.DECLINED: CaseEvent.Kind.OFFER_DECLINED,
        Offer.Status.TIMED_OUT: CaseEvent.Kind.OFFER_TIMED_OUT,
    }.get(status)  # type: ignore[call-overload]  # the statuses are str
    if kind is not None:
        record(case=case, kind=kind, now=now, agent=offer.agent, offer_id=offer.pk, reason=reason)
    publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=offer.agent_id, status=status))
    if case.status == CaseStatus.OFFERED:
        case.status = CaseStatus.QUEUED
        case.save(update_fields=["status", "updated_at"])
        publish_on_commit(case_status_changed(case))
        background.enqueue(route_case_task, case_id=case.pk)
    if status == Offer.Status.DECLINED:
        background.enqueue(route_agent_task, agent_id=offer.agent_id)


def _missed(*, agent_id: int, now: datetime, settings: RoutingSettings) -> None:
    """Count a missed offer; after too many in a row, the agent is set away
    (and told why), so customers stop waiting on someone who is not there."""
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    agent.missed_offers += 1
    fields = ["missed_offers"]
    limit = settings.missed_offers_limit
    away = settings.away_status
    if limit and away is not None and agent.missed_offers >= limit and agent.status_id != away.pk:
        agent.status = away
        agent.status_since = now
        missed = f"{agent.missed_offers} missed offer{'s' if agent.missed_offers != 1 else ''}"
        agent.status_reason = f"Set to {away.name} after {missed} in a row."
        agent.missed_offers = 0
        fields += ["status", "status_since", "status_reason"]
        publish_on_commit(AgentChanged(agent_id=agent.pk))
    agent.save(update_fields=fields)


def expire_offers(*, now: datetime, limit: int = 500) -> int:
    """Time out pending offers that are due. Several scanners may run at once:
    each case is locked with SKIP LOCKED and re-checked, so each offer times
    out exactly once."""
    due = list(
        Offer.objects.filter(status=Offer.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", "case_id")[:limit]
    )
    if not due:
        return 0
    settings = RoutingSettings.current()
    expired = 0
    for offer_id, case_id in due:
        with transaction.atomic():
            case = Case.objects.select_for_update(skip_locked=True).filter(pk=case_id).first()
            if case is None:
                continue
            offer = Offer.objects.select_for_update(of=("self",)).select_related("agent").get(pk=offer_id)
            if offer.status != Offer.Status.PENDING or offer.expires_at > now:
                continue
            _missed(agent_id=offer.agent_id, now=now, settings=settings)
            _close_offer(case=case, offer=offer, status=Offer.Status.TIMED_OUT, now=now)
            expired += 1
    return expired


def cancel_pending_offer(case: Case, now: datetime) -> None:
    offer = Offer.objects.select_for_update().filter(case=case, status=Offer.Status.PENDING).first()
    if offer is not None:
        offer.status = Offer.Status.CANCELLED
        offer.responded_at = now
        offer.save(update_fields=["status", "responded_at"])
        publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=offer.agent_id, status=offer.status))


def pending_offers_for(agent: Agent) -> list[Offer]:
    return list(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("case__customer", "case__queue")
        .order_by("created_at")
    )
