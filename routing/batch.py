"""The batch router: waiting cases locked, decided together and offered
(``route_batch``, ``route_case``, ``route_waiting``, ``route_agent``); its
rows and statements are in ``routing.batch_sql``.

Lock order, everywhere in the router: case, then agent(s) in id order, then offer. A
router locks a batch of the most urgent waiting cases with ``SKIP LOCKED``
(cases another router holds are its business), decides the whole batch in
memory (``routing.core.plan``), locks the chosen agents in id order,
re-reads their loads under the lock and decides again with what it finds,
so several routers at once never push an agent over capacity. Whatever
raises an agent's load locks that agent first. The database backs the rest:
one pending offer per case (a conditional unique index), one assignee per
case (a column, checked against the status).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from django.db import connection, transaction
from django.db.models import Q

from cases.models import Case, CaseEvent, CaseStatus
from config import background
from config.events import publish_many_on_commit
from routing import core, explain
from routing.agent_states import agent_states, anyone_routable, lock_agent_states
from routing.batch_sql import (
    WAITING_FIELDS,
    NewOffer,
    Waiting,
    lock_waiting_sql,
    write_in_one_statement,
    write_with_orm,
)
from routing.demands import case_demands
from routing.events import CaseAssigned, OfferCreated, case_status_changed
from routing.models import Offer
from routing.pool import planning
from routing.queue_settings import closed_queue_ids, queues, routing_settings

# Waiting cases a router locks and decides together: a batch costs about ten
# queries whatever its size, so bigger batches route more per second (200 did
# 1.4× the cases per second of 50 for one router in bench/route.py's data),
# while a batch's transaction stays a few tens of milliseconds.
BATCH = 200


@dataclass(slots=True)
class BatchResult:
    routed: list[NewOffer]  # offers made (accepted at once where the queue auto-accepts)
    examined: int  # waiting cases locked and considered
    last_key: tuple[datetime, int] | None  # (rank, id) of the last case examined
    room_left: bool  # someone routable still had room after this batch


def _lock_waiting(
    *, limit: int, now: datetime, case_ids=None, after: tuple[datetime, int] | None = None, kinds=None
) -> list[Case | Waiting]:
    """Lock up to ``limit`` of the most urgent waiting cases (by rank, then
    id; after ``after``), skipping those another transaction holds and
    those of queues outside their opening hours."""
    closed = closed_queue_ids(now)  # outside their opening hours: nothing is offered
    if connection.vendor == "postgresql":
        return lock_waiting_sql(limit=limit, closed=closed, case_ids=case_ids, after=after, kinds=kinds)
    qs = Case.objects.filter(status=CaseStatus.QUEUED)
    if closed:
        qs = qs.exclude(queue_id__in=closed)
    if case_ids is not None:
        qs = qs.filter(pk__in=list(case_ids))
    if after is not None:
        rank, pk = after
        qs = qs.filter(Q(route_rank__gt=rank) | Q(route_rank=rank, pk__gt=pk))
    if kinds is not None:
        qs = qs.filter(channel_kind__in=list(kinds))
    return list(
        qs.order_by("route_rank", "pk").select_for_update(skip_locked=True, of=("self",)).only(*WAITING_FIELDS)[:limit]
    )


def _decide(
    cases: list[Case | Waiting],
    now: datetime,
    *,
    agent_ids: list[int] | None = None,
    info: dict | None = None,
    notes: dict[int, core.Why] | None = None,
) -> tuple[list[core.Decision], bool]:
    """Plan on agents' states that may be a moment old (this thread's
    planning pool, or only ``agent_ids`` read now), lock the chosen agents in
    id order, read them fresh under the lock and plan the same cases again on
    that. Cases whose chosen agent another router was writing to, or had less
    room than planned, are planned once more without the first and with what
    the lock showed of the second. Returns the decisions and whether anyone
    may still have room. With ``notes``, each case's reasoning on the
    planning pool is noted there (``routing.core.explain``)."""
    settings = routing_settings()
    info = info if info is not None else queues()
    demands = case_demands(cast("list[Case]", cases), now, queue_info=info, settings=settings)  # or Waiting
    by_case = {d.case_id: d for d in demands}

    if agent_ids is None:
        pool = planning.pool(now, settings)
    else:
        pool = core.AgentPool(agent_states(now, agent_ids, settings=settings))
    held = core.AgentPool()  # agents this batch locked: read under the lock, plus the work given here
    busy: set[int] = set()  # agents another router is writing to: skipped, never waited for
    gone: set[int] = set()  # locked, and found no longer routable
    decisions: list[core.Decision] = []
    pending = demands
    for attempt in range(2):
        first = core.plan(pending, pool, notes=notes)
        if not first:
            break
        wanted = sorted({d.agent_id for d in first} - held.states.keys())
        if wanted:
            locked, fresh = lock_agent_states(now, wanted, settings=settings)
            busy.update(set(wanted) - set(locked))
            gone.update(set(locked) - {state.agent_id for state in fresh})
            held.update(fresh)
        placed = core.plan([by_case[d.case_id] for d in first], held)
        decisions += placed
        pool.remove(gone)
        pool.update(held.states.values())
        if len(placed) == len(first) or attempt:
            break
        done = {d.case_id for d in placed}
        pending = [
            replace(by_case[d.case_id], excluded_agents=by_case[d.case_id].excluded_agents | busy)
            for d in first
            if d.case_id not in done
        ]
    if agent_ids is not None:
        planning.sync(held.states.values(), gone)
    return decisions, pool.has_room() or bool(busy)


def apply_decisions(
    cases: dict[int, Case | Waiting],
    decisions: list[core.Decision],
    now: datetime,
    info: dict | None = None,
    notes: dict[int, core.Why] | None = None,
    pulled_by: int | None = None,
) -> list[NewOffer]:
    """Write a batch of decisions: offers (or assignments where the queue
    auto-accepts), case statuses, the timeline, and events after commit.
    Returns the offers made, with their ids."""
    if not decisions:
        return []
    info = info if info is not None else queues()
    offers: list[NewOffer] = []
    assigned: list = []
    events: list[tuple] = []  # (case id, kind, agent id, data): the timeline
    for decision in decisions:
        case = cases[decision.case_id]
        agent_id = decision.agent_id
        queue = info.get(case.queue_id) if case.queue_id else None
        auto = bool(queue and queue.auto_accepts(case.channel_kind))
        offer = NewOffer(case, agent_id, now=now, timeout=queue.offer_timeout_seconds if queue else 60, auto=auto)
        offers.append(offer)
        case.updated_at = now
        if case.first_offered_at is None:
            case.first_offered_at = now
        why = {"continuity": True} if decision.continuity else {}
        if auto:
            case.status = CaseStatus.ASSIGNED
            case.assignee_id = agent_id
            if case.first_assigned_at is None:
                case.first_assigned_at = now
            assigned.append(case)
            events.append((case.pk, CaseEvent.Kind.ASSIGNED, agent_id, {"via": "auto_accept", **why}))
        else:
            case.status = CaseStatus.OFFERED
            data = {"expires_at": offer.expires_at.isoformat(), **why}
            events.append((case.pk, CaseEvent.Kind.OFFERED, agent_id, data))
    write = write_in_one_statement if connection.vendor == "postgresql" else write_with_orm
    ids = write(cases, offers, events, assigned, decisions, now, notes, pulled_by)
    published: list = []
    for offer in offers:
        offer.id = ids[offer.case_id]
        case = offer.case
        if offer.status == Offer.Status.PENDING:
            published.append(
                OfferCreated(offer_id=offer.id, case_id=case.pk, agent_id=offer.agent_id, queued_at=case.queued_at)
            )
        else:
            published.append(
                CaseAssigned(case_id=case.pk, agent_id=offer.agent_id, queue_id=case.queue_id, queued_at=case.queued_at)
            )
        published.append(case_status_changed(case))
    publish_many_on_commit(published)
    return offers


def route_batch(
    *, now: datetime, limit: int = BATCH, case_ids=None, after: tuple[datetime, int] | None = None
) -> BatchResult:
    """Lock up to ``limit`` of the most urgent waiting cases (after ``after``,
    skipping those another router holds), decide them together, write the
    decisions. One transaction."""
    with transaction.atomic():
        cases = _lock_waiting(limit=limit, now=now, case_ids=case_ids, after=after)
        if not cases:
            return BatchResult(routed=[], examined=0, last_key=None, room_left=True)
        info = queues()
        notes = explain.notes()
        decisions, room_left = _decide(cases, now, info=info, notes=notes)
        routed = apply_decisions({c.pk: c for c in cases}, decisions, now, info, notes)
        last = cases[-1]
        last_key = (cast(datetime, last.route_rank), last.pk)  # a queued case has a rank
        return BatchResult(routed=routed, examined=len(cases), last_key=last_key, room_left=room_left)


def route_case(*, case_id: int, now: datetime) -> Offer | Case | None:
    """Offer one waiting case to the best eligible agent with room (or assign
    it at once where the queue auto-accepts). None when nobody may take it
    now, the case is not waiting, or another router holds it."""
    result = route_batch(now=now, limit=1, case_ids=[case_id])
    return result.routed[0].as_model() if result.routed else None


def route_waiting(*, now: datetime, limit: int = BATCH, max_examined: int = 5000) -> int:
    """Offer waiting cases, most urgent first, batch after batch, while anyone
    routable has room — also cases deep in the backlog that only a few agents
    may take. Called by the periodic tick, so nothing waits because a task was
    lost. Returns how many cases were offered or assigned."""
    if not anyone_routable(now):
        return 0
    routed = examined = 0
    after = None
    while examined < max_examined:
        result = route_batch(now=now, limit=limit, after=after)
        if result.examined == 0:
            break
        routed += len(result.routed)
        examined += result.examined
        after = result.last_key
        if not result.room_left:
            break
    return routed


def route_agent(*, agent_id: int, now: datetime, limit: int = 100) -> int:
    """An agent gained room (came online, resolved, declined, got more
    capacity): it pulls the most urgent waiting cases it may take, until it
    has no room left or none fits."""
    states = agent_states(now, [agent_id])
    if not states or not core.AgentPool(states).has_room():
        return 0
    kinds = states[0].channel_kinds
    routed = 0
    after = None
    for _ in range(20):  # at most 20 × limit waiting cases looked at
        with transaction.atomic():
            cases = _lock_waiting(limit=limit, now=now, after=after, kinds=kinds)
            if not cases:
                break
            after = (cast(datetime, cases[-1].route_rank), cases[-1].pk)  # a queued case has a rank
            info = queues()
            notes = explain.notes()
            decisions, room_left = _decide(cases, now, agent_ids=[agent_id], info=info, notes=notes)
            routed += len(apply_decisions({c.pk: c for c in cases}, decisions, now, info, notes, pulled_by=agent_id))
            if not room_left:
                break
    return routed


def release(case: Case, agent_id: int | None) -> None:
    """The agent no longer holds the case: it may pull other work."""
    from routing.tasks import route_agent as route_agent_task

    if agent_id is not None:
        background.enqueue(route_agent_task, agent_id=agent_id)
