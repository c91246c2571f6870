"""The router's writes: classify, queue, offer, accept, decline, time out.

Lock order, everywhere: case, then agent, then offer. A router locks the case
it routes with ``SKIP LOCKED`` (another router already has it), then the agent
it chose, and re-reads that agent's load under the lock before offering, so
several routers at once never push an agent over capacity. The database backs
the rest: one pending offer per case (a conditional unique index) and one
assignee per case (a column, checked against the status).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from agents.models import Agent, Skill
from cases.events import CaseStatusChanged
from cases.models import Case, CaseEvent, CaseSkill, CaseStatus
from cases.services import record
from config import background
from config.api import DomainError, NotFound
from config.events import publish_on_commit
from routing import selectors
from routing.core import Selection, choose_agent, exclusion_reason
from routing.events import CaseAssigned, OfferClosed, OfferCreated
from routing.models import Offer, RoutingRule

log = logging.getLogger(__name__)


class OfferUnavailable(DomainError):
    code = "offer_closed"


def _status_event(case: Case) -> CaseStatusChanged:
    return CaseStatusChanged(case_id=case.pk, status=case.status, assignee_id=case.assignee_id, queue_id=case.queue_id)


# --- Classification ---------------------------------------------------------


def _rule_matches(rule: RoutingRule, *, case: Case, text: str) -> bool:
    if rule.match_channel_kinds and case.channel_kind not in rule.match_channel_kinds:
        return False
    if rule.match_channel_id and rule.match_channel_id != case.channel_id:
        return False
    if rule.match_language and rule.match_language.lower() != (case.language or "").lower():
        return False
    if rule.match_customer_tier and rule.match_customer_tier != case.customer.tier:
        return False
    keywords = rule.keywords()
    if keywords:
        lowered = text.lower()
        if not any(k in lowered for k in keywords):
            return False
    return True


def classify_case(*, case: Case, text: str, now: datetime) -> RoutingRule | None:
    """Apply the first matching routing rule: queue, priority, required skills
    (the queue's, the rule's, and the language skill of the case's language)."""
    rule = next(
        (
            r
            for r in RoutingRule.objects.filter(is_active=True).select_related("queue")
            if _rule_matches(r, case=case, text=text)
        ),
        None,
    )
    queue = rule.queue if rule else (case.channel.default_queue if case.channel_id else None)
    case.queue = queue
    if rule and rule.set_priority:
        case.priority = rule.set_priority
    case.save(update_fields=["queue", "priority", "updated_at"])

    required: dict[int, int] = {}
    if queue is not None:
        for qs in queue.required_skills.all():
            required[qs.skill_id] = max(required.get(qs.skill_id, 0), qs.min_proficiency)
    if rule is not None:
        for rs in rule.skills.all():
            required[rs.skill_id] = max(required.get(rs.skill_id, 0), rs.min_proficiency)
    if case.language and (rule is None or rule.add_language_skill):
        language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=case.language).first()
        if language is None and "-" in case.language:
            base = case.language.split("-")[0]
            language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=base).first()
        if language is not None:
            required.setdefault(language.pk, 1)
    CaseSkill.objects.filter(case=case).delete()
    CaseSkill.objects.bulk_create(
        [CaseSkill(case=case, skill_id=skill_id, min_proficiency=level) for skill_id, level in required.items()]
    )
    record(
        case=case,
        kind=CaseEvent.Kind.CLASSIFIED,
        now=now,
        rule=rule.name if rule else None,
        queue=queue.name if queue else None,
        priority=case.priority,
        skills=sorted(Skill.objects.filter(pk__in=required).values_list("name", flat=True)),
    )
    return rule


def queue_case(*, case: Case, now: datetime) -> Case:
    """The case starts waiting for an agent; the router is asked after commit."""
    from routing.tasks import route_case as route_case_task

    case.status = CaseStatus.QUEUED
    case.assignee = None
    case.queued_at = now
    case.save(update_fields=["status", "assignee", "queued_at", "updated_at"])
    record(case=case, kind=CaseEvent.Kind.QUEUED, now=now, queue=case.queue.name if case.queue_id else None)
    publish_on_commit(_status_event(case))
    background.enqueue(route_case_task, case_id=case.pk)
    return case


# --- Routing ----------------------------------------------------------------


def _assign(*, case: Case, agent: Agent, now: datetime, via: str, actor=None) -> Case:
    case.status = CaseStatus.ASSIGNED
    case.assignee = agent
    if case.first_assigned_at is None:
        case.first_assigned_at = now
    case.save(update_fields=["status", "assignee", "first_assigned_at", "updated_at"])
    if agent.idle_since is not None:
        Agent.objects.filter(pk=agent.pk).update(idle_since=None)
    record(case=case, kind=CaseEvent.Kind.ASSIGNED, now=now, agent=agent, actor=actor, via=via)
    publish_on_commit(CaseAssigned(case_id=case.pk, agent_id=agent.pk, queue_id=case.queue_id))
    publish_on_commit(_status_event(case))
    return case


def route_case(*, case_id: int, now: datetime, max_attempts: int = 5) -> Offer | Case | None:
    """Offer a queued case to the best eligible agent with room (or assign it
    at once where the queue auto-accepts). None when nobody may take it now or
    another router holds the case."""
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("queue", "customer", "channel")
            .filter(pk=case_id, status=CaseStatus.QUEUED)
            .first()
        )
        if case is None:
            return None
        members = selectors.queue_members(case.queue)
        demand = selectors.case_demand(case, members, excluded=selectors.agents_who_refused(case.pk))
        agents = selectors.routable_agents(now)
        loads = selectors.agent_loads(a.pk for a in agents)
        states = [selectors.agent_state(a, loads[a.pk], members, now) for a in agents]
        selection = Selection(case.queue.agent_selection) if case.queue_id else Selection.MOST_AVAILABLE
        tried: set[int] = set()
        for _ in range(max_attempts):
            decision = choose_agent(demand, (s for s in states if s.agent_id not in tried), selection)
            if decision is None:
                return None
            agent = _lock_if_still_eligible(decision.agent_id, demand=demand, members=members, now=now)
            if agent is not None:
                break
            tried.add(decision.agent_id)
        else:
            return None

        if case.queue_id and case.queue.auto_accept:
            return _assign(case=case, agent=agent, now=now, via="auto_accept")

        timeout = case.queue.offer_timeout_seconds if case.queue_id else 60
        offer = Offer.objects.create(
            case=case,
            agent=agent,
            channel_kind=case.channel_kind,
            created_at=now,
            expires_at=now + timedelta(seconds=timeout),
        )
        case.status = CaseStatus.OFFERED
        if case.first_offered_at is None:
            case.first_offered_at = now
        case.save(update_fields=["status", "first_offered_at", "updated_at"])
        record(
            case=case,
            kind=CaseEvent.Kind.OFFERED,
            now=now,
            agent=agent,
            offer_id=offer.pk,
            expires_at=offer.expires_at.isoformat(),
        )
        publish_on_commit(OfferCreated(offer_id=offer.pk, case_id=case.pk, agent_id=agent.pk))
        publish_on_commit(_status_event(case))
        return offer


class _NoLongerEligible(Exception):
    pass


def _lock_if_still_eligible(agent_id: int, *, demand, members, now: datetime) -> Agent | None:
    """Lock the chosen agent, then re-read its load: another router may have
    offered it work since we looked. An agent that no longer fits is let go
    at once (its lock lives in a savepoint that is rolled back), so a router
    never holds two agents and two routers never wait on each other."""
    try:
        with transaction.atomic():
            agent = Agent.objects.select_for_update(of=("self",)).select_related("status").get(pk=agent_id)
            fresh = selectors.routable_agents(now, agent_ids=[agent.pk])
            if fresh:
                state = selectors.agent_state(fresh[0], selectors.agent_loads([agent.pk])[agent.pk], members, now)
                if exclusion_reason(demand, state) is None:
                    return agent
            raise _NoLongerEligible
    except _NoLongerEligible:
        return None


def route_waiting(*, now: datetime, limit: int = 200) -> int:
    """Offer waiting cases, most urgent first, while anyone may take work.
    Called by the periodic tick: nothing waits because a task was lost."""
    if not selectors.routable_agents(now):
        return 0
    routed = 0
    for case_id in selectors.waiting_case_ids(limit=limit):
        if route_case(case_id=case_id, now=now) is not None:
            routed += 1
    return routed


def route_agent(*, agent_id: int, now: datetime, limit: int = 50) -> int:
    """An agent gained room (came online, resolved, declined): route the most
    urgent waiting cases until nobody eligible has room for the next one."""
    agents = selectors.routable_agents(now, agent_ids=[agent_id])
    if not agents:
        return 0
    routed = 0
    for case_id in selectors.waiting_case_ids(limit=limit):
        if route_case(case_id=case_id, now=now) is not None:
            routed += 1
    return routed


# --- Offers -------------------------------------------------------------------


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
        _close_offer(case=case, offer=offer, status=Offer.Status.TIMED_OUT, now=now)
    raise OfferUnavailable(f"offer {offer_id} timed out")


def _accept(*, case: Case, offer: Offer, agent: Agent, now: datetime) -> Case:
    offer.status = Offer.Status.ACCEPTED
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at"])
    record(case=case, kind=CaseEvent.Kind.OFFER_ACCEPTED, now=now, agent=agent, offer_id=offer.pk)
    publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=agent.pk, status=offer.status))
    return _assign(case=case, agent=agent, now=now, via=f"offer {offer.pk}")


def decline_offer(*, offer_id: int, agent: Agent, reason: str, now: datetime) -> Offer:
    with transaction.atomic():
        case, offer = _lock_offer(offer_id=offer_id, agent=agent)
        if offer.status != Offer.Status.PENDING:
            raise OfferUnavailable(f"offer {offer_id} is {offer.status}")
        _close_offer(case=case, offer=offer, status=Offer.Status.DECLINED, now=now, reason=(reason or "")[:200])
    return offer


def _close_offer(*, case: Case, offer: Offer, status: str, now: datetime, reason: str = "") -> None:
    """Decline or time out: the case waits again, without this agent."""
    from routing.tasks import route_case as route_case_task

    offer.status = status
    offer.responded_at = now
    offer.decline_reason = reason
    offer.save(update_fields=["status", "responded_at", "decline_reason"])
    kind = CaseEvent.Kind.OFFER_DECLINED if status == Offer.Status.DECLINED else CaseEvent.Kind.OFFER_TIMED_OUT
    record(case=case, kind=kind, now=now, agent=offer.agent, offer_id=offer.pk, reason=reason)
    publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=offer.agent_id, status=status))
    if case.status == CaseStatus.OFFERED:
        case.status = CaseStatus.QUEUED
        case.save(update_fields=["status", "updated_at"])
        publish_on_commit(_status_event(case))
        background.enqueue(route_case_task, case_id=case.pk)


def expire_offers(*, now: datetime, limit: int = 500) -> int:
    """Time out pending offers that are due. Several scanners may run at once:
    each case is locked with SKIP LOCKED and re-checked, so each offer times
    out exactly once."""
    due = list(
        Offer.objects.filter(status=Offer.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", "case_id")[:limit]
    )
    expired = 0
    for offer_id, case_id in due:
        with transaction.atomic():
            case = Case.objects.select_for_update(skip_locked=True).filter(pk=case_id).first()
            if case is None:
                continue
            offer = Offer.objects.select_for_update(of=("self",)).select_related("agent").get(pk=offer_id)
            if offer.status != Offer.Status.PENDING or offer.expires_at > now:
                continue
            _close_offer(case=case, offer=offer, status=Offer.Status.TIMED_OUT, now=now)
            expired += 1
    return expired
