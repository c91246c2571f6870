"""The router's writes: classify, queue, offer, accept, decline, time out,
overflow, wrap-up, response timers, supervisor assignment and transfer.

Lock order, everywhere: case, then agent(s) in id order, then offer. A
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

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Coalesce

from agents.events import AgentChanged
from agents.models import Agent, Skill
from agents.services import mark_idle_if_free
from cases.events import CaseStatusChanged, EscalationRaised
from cases.models import OPEN_STATUSES, Case, CaseEvent, CaseSkill, CaseStatus, Customer
from cases.services import record
from config import background
from config.api import DomainError, Invalid, NotFound
from config.events import publish_many_on_commit, publish_on_commit
from routing import bulk, core, explain, selectors
from routing.events import CaseAssigned, CaseEscalated, OfferClosed, OfferCreated
from routing.models import DeclineReason, Explanation, Offer, OverflowStep, Queue, RoutingRule, RoutingSettings

log = logging.getLogger(__name__)


class OfferUnavailable(DomainError):
    code = "offer_closed"


class NotAllowed(DomainError):
    status_code = 409
    code = "not_allowed"


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


def _required_skills(queue: Queue | None, rule: RoutingRule | None) -> dict[int, tuple[int, bool]]:
    """skill id -> (minimum proficiency, optional); a skill required by both
    the queue and the rule takes the higher minimum and is optional only if
    both say so."""
    required: dict[int, tuple[int, bool]] = {}

    def add(skill_id: int, minimum: int, optional: bool) -> None:
        if skill_id in required:
            old_min, old_optional = required[skill_id]
            required[skill_id] = (max(old_min, minimum), old_optional and optional)
        else:
            required[skill_id] = (minimum, optional)

    if queue is not None:
        for qs in queue.required_skills.all():
            add(qs.skill_id, qs.min_proficiency, qs.optional)
    if rule is not None:
        for rs in rule.skills.all():
            add(rs.skill_id, rs.min_proficiency, rs.optional)
    return required


def classify_case(*, case: Case, text: str, now: datetime) -> RoutingRule | None:
    """Apply the first matching routing rule: queue, priority, required skills
    (the queue's, the rule's, and the language skill of the case's language),
    the capacity units the case takes and whether it may interrupt."""
    rule = next(
        (
            r
            for r in RoutingRule.objects.filter(is_active=True).select_related("queue")
            if _rule_matches(r, case=case, text=text)
        ),
        None,
    )
    queue = rule.queue if rule else (case.channel.default_queue if case.channel_id else None)  # type: ignore[union-attr]  # channel_id checked
    case.queue = queue
    if rule and rule.set_priority:
        case.priority = rule.set_priority
    case.units = queue.case_units if queue is not None else 1
    case.may_interrupt = bool(rule and rule.may_interrupt)
    case.save(update_fields=["queue", "priority", "units", "may_interrupt", "updated_at"])

    required = _required_skills(queue, rule)
    if case.language and (rule is None or rule.add_language_skill):
        language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=case.language).first()
        if language is None and "-" in case.language:
            base = case.language.split("-")[0]
            language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=base).first()
        if language is not None:
            required.setdefault(language.pk, (1, False))
    _set_case_skills(case, required)
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


def _set_case_skills(case: Case, required: dict[int, tuple[int, bool]]) -> None:
    CaseSkill.objects.filter(case=case).delete()
    CaseSkill.objects.bulk_create(
        [
            CaseSkill(case=case, skill_id=skill_id, min_proficiency=minimum, optional=optional)
            for skill_id, (minimum, optional) in required.items()
        ]
    )


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
    publish_on_commit(_status_event(case))
    background.enqueue(route_case_task, case_id=case.pk)
    return case


# --- Routing ----------------------------------------------------------------


# Waiting cases a router locks and decides together: a batch costs about ten
# queries whatever its size, so bigger batches route more per second (200 did
# 1.4× the cases per second of 50 for one router in bench/route.py's data),
# while a batch's transaction stays a few tens of milliseconds.
BATCH = 200


@dataclass(slots=True)
class BatchResult:
    routed: list[_NewOffer]  # offers made (accepted at once where the queue auto-accepts)
    examined: int  # waiting cases locked and considered
    last_key: tuple[datetime, int] | None  # (rank, id) of the last case examined
    room_left: bool  # someone routable still had room after this batch


_WAITING_FIELDS = (
    "id",
    "customer_id",
    "queue_id",
    "channel_kind",
    "units",
    "may_interrupt",
    "overflow",
    "route_rank",
    "status",
    "priority",
    "first_offered_at",
    "first_assigned_at",
    "assignee_id",
    "updated_at",
    "queued_at",
)


def _lock_waiting(
    *, limit: int, now: datetime, case_ids=None, after: tuple[datetime, int] | None = None, kinds=None
) -> list[Case | _Waiting]:
    """Lock up to ``limit`` of the most urgent waiting cases (by rank, then
    id; after ``after``), skipping those another transaction holds and
    those of queues outside their opening hours."""
    closed = selectors.closed_queue_ids(now)  # outside their opening hours: nothing is offered
    if connection.vendor == "postgresql":
        return _lock_waiting_sql(limit=limit, closed=closed, case_ids=case_ids, after=after, kinds=kinds)
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
        qs.order_by("route_rank", "pk").select_for_update(skip_locked=True, of=("self",)).only(*_WAITING_FIELDS)[:limit]
    )


class _Waiting:
    """A waiting case locked on PostgreSQL, as the router needs it: the
    columns of ``_WAITING_FIELDS`` as attributes (named as on ``Case``),
    without a model instance."""

    __slots__ = _WAITING_FIELDS
    # The columns, typed as on Case (set from the row in __init__).
    id: int
    customer_id: int
    queue_id: int | None
    channel_kind: str
    units: int
    may_interrupt: bool
    overflow: dict[str, Any]
    route_rank: datetime
    status: str
    priority: int
    first_offered_at: datetime | None
    first_assigned_at: datetime | None
    assignee_id: int | None
    updated_at: datetime
    queued_at: datetime | None

    def __init__(self, row: tuple) -> None:
        for name, value in zip(_WAITING_FIELDS, row, strict=True):
            setattr(self, name, value)

    @property
    def pk(self) -> int:
        return self.id

    def as_case(self) -> Case:
        """A ``Case`` with these columns loaded (the others load on access)."""
        return _loaded(Case, {name: getattr(self, name) for name in _WAITING_FIELDS})


def _loaded(model, values: dict):
    """An instance of ``model`` as if loaded with just these columns (by
    attname; the others load on access)."""
    fields = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db("default", fields, [values[name] for name in fields])


def _lock_waiting_sql(*, limit: int, closed, case_ids, after, kinds) -> list[Case | _Waiting]:
    """The same on PostgreSQL as a prepared statement: the hottest query of
    a decision, neither compiled by the ORM nor planned again every time,
    rows read in binary."""
    q = connection.ops.quote_name
    where: list[str] = [f"{q('status')} = %s"]
    params: list[Any] = [CaseStatus.QUEUED.value]
    if closed:
        where.append("(queue_id IS NULL OR NOT queue_id = ANY(%s))")
        params.append(list(closed))
    if case_ids is not None:
        where.append("id = ANY(%s)")
        params.append(list(case_ids))
    if after is not None:
        rank, pk = after
        where.append("(route_rank > %s OR (route_rank = %s AND id > %s))")
        params += [rank, rank, pk]
    if kinds is not None:
        where.append("channel_kind = ANY(%s)")
        params.append(list(kinds))
    columns = ", ".join(q(Case._meta.get_field(name).column) for name in _WAITING_FIELDS)  # type: ignore[union-attr, arg-type]  # columns
    # Names come from the model; every value is a parameter.
    sql = (
        f"SELECT {columns} FROM {q(Case._meta.db_table)} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY route_rank, id LIMIT %s FOR UPDATE SKIP LOCKED"
    )
    with bulk.binary_cursor(prepared=True) as cursor:
        cursor.execute(sql, [*params, limit])
        return [_Waiting(row) for row in cursor.fetchall()]


def _decide(
    cases: list[Case | _Waiting],
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
    settings = selectors.routing_settings()
    info = info if info is not None else selectors.queues()
    demands = selectors.case_demands(cast("list[Case]", cases), now, queue_info=info, settings=settings)  # or _Waiting
    by_case = {d.case_id: d for d in demands}

    if agent_ids is None:
        pool = selectors.planning.pool(now, settings)
    else:
        pool = core.AgentPool(selectors.agent_states(now, agent_ids, settings=settings))
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
            locked, fresh = selectors.lock_agent_states(now, wanted, settings=settings)
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
        selectors.planning.sync(held.states.values(), gone)
    return decisions, pool.has_room() or bool(busy)


_OFFER_COLUMNS = (
    "case_id",
    "agent_id",
    "channel_kind",
    "status",
    "created_at",
    "expires_at",
    "responded_at",
    "decline_reason",
    "units",
    "may_interrupt",
)


class _NewOffer:
    """An offer a batch makes, before it is written: the values of
    ``_OFFER_COLUMNS`` (named as on ``Offer``), the case it is for, and its
    id once written. Plain attributes, not a model instance: a batch makes
    two hundred of them."""

    __slots__ = (*_OFFER_COLUMNS, "case", "id")

    def __init__(self, case, agent_id: int, *, now: datetime, timeout: int, auto: bool) -> None:
        self.case = case
        self.case_id = case.pk
        self.agent_id = agent_id
        self.channel_kind = case.channel_kind
        self.status = Offer.Status.ACCEPTED if auto else Offer.Status.PENDING
        self.created_at = now
        self.expires_at = now + timedelta(seconds=timeout)
        self.responded_at = now if auto else None
        self.decline_reason = ""
        self.units = case.units
        self.may_interrupt = case.may_interrupt
        self.id: int | None = None

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in _OFFER_COLUMNS)

    def as_model(self) -> Offer | Case:
        """What ``route_case`` returns: the offer, or the case where the
        queue assigned it at once."""
        case = self.case.as_case() if isinstance(self.case, _Waiting) else self.case
        if self.status == Offer.Status.ACCEPTED:
            return case
        offer = _loaded(Offer, {"id": self.id, **dict(zip(_OFFER_COLUMNS, self.row(), strict=True))})
        offer.case = case
        return offer


def _apply(
    cases: dict[int, Case | _Waiting],
    decisions: list[core.Decision],
    now: datetime,
    info: dict | None = None,
    notes: dict[int, core.Why] | None = None,
    pulled_by: int | None = None,
) -> list[_NewOffer]:
    """Write a batch of decisions: offers (or assignments where the queue
    auto-accepts), case statuses, the timeline, and events after commit.
    Returns the offers made, with their ids."""
    if not decisions:
        return []
    info = info if info is not None else selectors.queues()
    offers: list[_NewOffer] = []
    assigned: list = []
    events: list[tuple] = []  # (case id, kind, agent id, data): the timeline
    for decision in decisions:
        case = cases[decision.case_id]
        agent_id = decision.agent_id
        queue = info.get(case.queue_id) if case.queue_id else None
        auto = bool(queue and queue.auto_accepts(case.channel_kind))
        offer = _NewOffer(case, agent_id, now=now, timeout=queue.offer_timeout_seconds if queue else 60, auto=auto)
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
    write = _write_in_one_statement if connection.vendor == "postgresql" else _write
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
        published.append(_status_event(case))
    publish_many_on_commit(published)
    return offers


_EVENT_COLUMNS = ("case_id", "kind", "agent_id", "actor_id", "data", "created_at")


def _write(cases, offers, events, assigned, decisions, now, notes, pulled_by) -> dict[int, int]:
    """The batch's writes through the ORM (SQLite): offers, their
    explanations, case statuses, the timeline, the agents' last routing
    time. Returns {case id: offer id}."""
    ids = bulk.insert(Offer, _OFFER_COLUMNS, [o.row() for o in offers], key="case_id")
    if notes:
        explain.record(offers, notes, now, pulled_by=pulled_by, offer_ids=ids)
    # A few set-based updates rather than one CASE per column and row.
    decided = [d.case_id for d in decisions]
    offered = [c.pk for c in (cases[i] for i in decided) if c.status == CaseStatus.OFFERED]
    at = Value(now, output_field=DateTimeField())
    if offered:
        Case.objects.filter(pk__in=offered).update(
            status=CaseStatus.OFFERED, updated_at=now, first_offered_at=Coalesce("first_offered_at", at)
        )
    by_agent: dict[int, list[int]] = {}
    for case in assigned:
        by_agent.setdefault(case.assignee_id, []).append(case.pk)
    for agent_id, pks in by_agent.items():
        Case.objects.filter(pk__in=pks).update(
            status=CaseStatus.ASSIGNED,
            assignee_id=agent_id,
            updated_at=now,
            first_offered_at=Coalesce("first_offered_at", at),
            first_assigned_at=Coalesce("first_assigned_at", at),
        )
    rows = []
    for case_id, kind, agent_id, data in events:
        if kind == CaseEvent.Kind.OFFERED:
            data = {**data, "offer_id": ids[case_id]}
        rows.append((case_id, kind, agent_id, None, data, now))
    bulk.insert(CaseEvent, _EVENT_COLUMNS, rows)
    # Longest idle counts from the last case handed to the agent.
    Agent.objects.filter(pk__in={d.agent_id for d in decisions}).update(last_routed_at=now)
    if assigned:
        Agent.objects.filter(pk__in={c.assignee_id for c in assigned}, idle_since__isnull=False).update(idle_since=None)
    return ids


def _write_in_one_statement(cases, offers, events, assigned, decisions, now, notes, pulled_by) -> dict[int, int]:
    """The same writes on PostgreSQL as one prepared statement
    (data-modifying CTEs): the offers, their explanations, the timeline (an
    offer's event names its new id), the case statuses and the agents' last
    routing time, in one round trip with every value bound in binary.
    Returns {case id: offer id}."""

    q = connection.ops.quote_name
    offer_columns, offer_rows, offer_params = bulk.unnest(Offer, _OFFER_COLUMNS, [o.row() for o in offers])
    event_columns, event_rows, event_params = bulk.unnest(CaseEvent, ("case_id", "kind", "agent_id", "data"), events)
    status = Case._meta.get_field("status").db_type(connection)
    case_table, event_table = q(Case._meta.db_table), q(CaseEvent._meta.db_table)
    agent_table, offer_table = q(Agent._meta.db_table), q(Offer._meta.db_table)
    params: list = [*offer_params]
    explained = ""
    if notes:
        text_column = cast(str, Explanation._meta.get_field("text").column)  # a concrete field
        explanations = explain.rows(offers, notes, pulled_by=pulled_by)
        if explanations:
            explained = f"""
            , x AS (
                INSERT INTO {q(Explanation._meta.db_table)} (offer_id, created_at, {q(text_column)})
                SELECT o.id, %b::timestamptz, d.text
                  FROM o JOIN unnest(%b::bigint[], %b::text[]) AS d (case_id, text) USING (case_id)
            )"""  # noqa: S608 (names come from the model)
            params += [now, [c for c, _ in explanations], [Explanation.encode(d) for _, d in explanations]]
    params += [now, *event_params]
    params += [now, now, now, [o.case_id for o in offers], [o.case.status for o in offers]]
    params += [[o.agent_id if o.status == Offer.Status.ACCEPTED else None for o in offers]]
    params += [now, sorted({c.assignee_id for c in assigned}), sorted({d.agent_id for d in decisions})]
    # Names and types come from the models; every value is a parameter.
    sql = f"""
        WITH o AS (
            INSERT INTO {offer_table} ({offer_columns}) SELECT * FROM {offer_rows} RETURNING id, case_id
        ){explained}
        , e AS (
            INSERT INTO {event_table} (case_id, kind, agent_id, actor_id, data, created_at)
            SELECT d.case_id, d.kind, d.agent_id, NULL,
                   CASE WHEN d.kind = 'offered' THEN d.data || jsonb_build_object('offer_id', o.id) ELSE d.data END,
                   %b::timestamptz
              FROM {event_rows} AS d ({event_columns}) JOIN o USING (case_id)
        )
        , c AS (
            UPDATE {case_table} AS t
               SET status = d.status, assignee_id = COALESCE(d.assignee_id, t.assignee_id), updated_at = %b,
                   first_offered_at = COALESCE(t.first_offered_at, %b),
                   first_assigned_at = CASE WHEN d.assignee_id IS NULL THEN t.first_assigned_at
                                            ELSE COALESCE(t.first_assigned_at, %b) END
              FROM unnest(%b::bigint[], %b::{status}[], %b::bigint[]) AS d (id, status, assignee_id)
             WHERE t.id = d.id
        )
        , a AS (
            UPDATE {agent_table}
               SET last_routed_at = %b::timestamptz,
                   idle_since = CASE WHEN id = ANY(%b::bigint[]) THEN NULL ELSE idle_since END
             WHERE id = ANY(%b::bigint[])
        )
        SELECT case_id, id FROM o
    """  # noqa: S608
    with bulk.binary_cursor(prepared=True) as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


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
        info = selectors.queues()
        notes = explain.notes()
        decisions, room_left = _decide(cases, now, info=info, notes=notes)
        routed = _apply({c.pk: c for c in cases}, decisions, now, info, notes)
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
    if not selectors.anyone_routable(now):
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
    states = selectors.agent_states(now, [agent_id])
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
            info = selectors.queues()
            notes = explain.notes()
            decisions, room_left = _decide(cases, now, agent_ids=[agent_id], info=info, notes=notes)
            routed += len(_apply({c.pk: c for c in cases}, decisions, now, info, notes, pulled_by=agent_id))
            if not room_left:
                break
    return routed


# --- Overflow -----------------------------------------------------------------


def apply_overflow(*, now: datetime, limit: int = 500) -> int:
    """Take the overflow steps that waiting cases have become due for; each
    step is on the case's timeline and the case is routed again at once."""
    from routing.tasks import route_case as route_case_task

    steps_by_queue: dict[int, list[OverflowStep]] = {}
    for step in OverflowStep.objects.select_related("target_queue", "target_team"):
        steps_by_queue.setdefault(step.queue_id, []).append(step)
    if not steps_by_queue:
        return 0
    taken = 0
    for queue_id, steps in steps_by_queue.items():
        earliest = steps[0].after_seconds
        due = list(
            Case.objects.filter(
                status=CaseStatus.QUEUED,
                queue_id=queue_id,
                overflow_level__lt=len(steps),
                queued_at__lte=now - timedelta(seconds=earliest),
            ).values_list("pk", flat=True)[:limit]
        )
        for case_id in due:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(skip_locked=True)
                    .filter(pk=case_id, status=CaseStatus.QUEUED)
                    .first()
                )
                if case is None:
                    continue
                waited = (now - (case.queued_at or case.created_at)).total_seconds()
                moved = False
                while case.overflow_level < len(steps) and waited >= steps[case.overflow_level].after_seconds:
                    _take_step(case, steps[case.overflow_level], now)
                    case.overflow_level += 1
                    moved = True
                    taken += 1
                if moved:
                    case.save(update_fields=["overflow_level", "overflow", "updated_at"])
                    background.enqueue(route_case_task, case_id=case.pk)
    return taken


def _take_step(case: Case, step: OverflowStep, now: datetime) -> None:
    scope = dict(case.overflow or {})
    detail: dict = {"step": case.overflow_level + 1, "action": step.action, "after_seconds": step.after_seconds}
    if step.action == OverflowStep.Action.LOWER_PROFICIENCY:
        lowered = []
        for cs in CaseSkill.objects.filter(case=case, optional=True).select_related("skill"):
            new = max(1, cs.min_proficiency - step.amount)
            if new != cs.min_proficiency:
                lowered.append(f"{cs.skill.name} {cs.min_proficiency}→{new}")
                cs.min_proficiency = new
                cs.save(update_fields=["min_proficiency"])
        detail["lowered"] = lowered
    elif step.action == OverflowStep.Action.DROP_OPTIONAL_SKILLS:
        dropped = list(CaseSkill.objects.filter(case=case, optional=True).values_list("skill__name", flat=True))
        CaseSkill.objects.filter(case=case, optional=True).delete()
        detail["dropped"] = sorted(dropped)
    elif step.action == OverflowStep.Action.ADD_QUEUE:
        scope["queues"] = sorted(set(scope.get("queues", [])) | {step.target_queue_id})
        detail["queue"] = step.target_queue.name  # type: ignore[union-attr]  # an ADD_QUEUE step has one
    elif step.action == OverflowStep.Action.ADD_TEAM:
        scope["teams"] = sorted(set(scope.get("teams", [])) | {step.target_team_id})
        detail["team"] = step.target_team.name  # type: ignore[union-attr]  # an ADD_TEAM step has one
    else:
        scope["anyone"] = True
    case.overflow = scope
    record(case=case, kind=CaseEvent.Kind.OVERFLOW, now=now, **detail)
    publish_on_commit(
        EscalationRaised(
            kind="overflow",
            case_id=case.pk,
            queue_id=case.queue_id,
            detail=f"Overflow step {detail['step']}: {step.get_action_display()}",
        )
    )


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
    return _assign(case=case, agent=agent, now=now, via=f"offer {offer.pk}")


def _assign(*, case: Case, agent: Agent, now: datetime, via: str, actor=None, **data) -> Case:
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
    publish_on_commit(_status_event(case))
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
        publish_on_commit(_status_event(case))
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


# --- After assignment: response timer, wrap-up ---------------------------------


def check_first_replies(*, now: datetime, limit: int = 500) -> int:
    """The response timer: an assigned case whose customer has waited longer
    than its queue allows for the agent's first reply is escalated to
    supervisors, or returned to the queue (without that agent), as the queue
    says. Each case is handled once."""
    acted = 0
    for queue in Queue.objects.filter(first_reply_minutes__gt=0):
        overdue = list(
            Case.objects.filter(
                queue=queue,
                status=CaseStatus.ASSIGNED,
                first_response_at__isnull=True,
                escalated_at__isnull=True,
                first_assigned_at__lte=now - timedelta(minutes=queue.first_reply_minutes),
            ).values_list("pk", flat=True)[:limit]
        )
        for case_id in overdue:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(skip_locked=True)
                    .filter(pk=case_id, status=CaseStatus.ASSIGNED, first_response_at__isnull=True)
                    .first()
                )
                if case is None or case.escalated_at is not None:
                    continue
                reason = f"no first reply within {queue.first_reply_minutes} min"
                case.escalated_at = now
                case.save(update_fields=["escalated_at", "updated_at"])
                publish_on_commit(CaseEscalated(case_id=case.pk, queue_id=case.queue_id, reason=reason))
                if queue.first_reply_action == "requeue":
                    agent_id = case.assignee_id
                    record(case=case, kind=CaseEvent.Kind.RETURNED, now=now, agent_id=agent_id, reason=reason)
                    _release(case, agent_id)
                    queue_case(case=case, now=now, excluded_agent_id=agent_id)
                else:
                    record(case=case, kind=CaseEvent.Kind.ESCALATED, now=now, reason=reason)
                acted += 1
    return acted


def _release(case: Case, agent_id: int | None) -> None:
    """The agent no longer holds the case: it may pull other work."""
    from routing.tasks import route_agent as route_agent_task

    if agent_id is not None:
        background.enqueue(route_agent_task, agent_id=agent_id)


def end_wrap_up(*, case_id: int, agent: Agent | None, now: datetime) -> Case:
    """The agent finished after-contact work (or its time limit passed, with
    ``agent`` None): the case is resolved and the capacity frees."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if agent is not None and case.assignee_id != agent.pk:
            raise NotAllowed(f"case {case_id} is not yours")
        if case.status != CaseStatus.WRAP_UP:
            raise NotAllowed(f"case {case_id} is {case.status}, not in wrap-up")
        case.status = CaseStatus.RESOLVED
        case.wrap_up_until = None
        case.save(update_fields=["status", "wrap_up_until", "updated_at"])
        record(case=case, kind=CaseEvent.Kind.RESOLVED, now=now, agent=case.assignee, wrap_up_ended=True)
        publish_on_commit(_status_event(case))
        if case.assignee_id is not None:
            mark_idle_if_free(agent_id=case.assignee_id, now=now)
        _release(case, case.assignee_id)
    return case


def end_due_wrap_ups(*, now: datetime, limit: int = 500) -> int:
    due = list(
        Case.objects.filter(status=CaseStatus.WRAP_UP, wrap_up_until__lte=now).values_list("pk", flat=True)[:limit]
    )
    ended = 0
    for case_id in due:
        try:
            end_wrap_up(case_id=case_id, agent=None, now=now)
            ended += 1
        except DomainError:
            continue  # ended by the agent meanwhile
    return ended


# --- Supervisors: assign, reassign, transfer ------------------------------------


def assign_case(*, case_id: int, agent_id: int, now: datetime, actor=None, force: bool = False) -> Case:
    """A supervisor gives an open case to an agent (also one held by another
    agent: a reassignment). The agent's status, skills and capacity are
    respected unless ``force``, which is recorded on the timeline."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.status not in OPEN_STATUSES or case.status == CaseStatus.NEW:
            raise NotAllowed(f"case {case_id} is {case.status}")
        agent = Agent.objects.select_for_update().filter(pk=agent_id, is_active=True).first()
        if agent is None:
            raise NotFound(f"no agent {agent_id}")
        if case.assignee_id == agent.pk:
            raise NotAllowed(f"case {case_id} is already {agent.display_name}'s")
        # Cancel a pending offer first, so the unit it holds (perhaps on this
        # very agent) does not count against them; a refusal rolls it back.
        _cancel_pending_offer(case, now)
        if not force:
            states = selectors.agent_states(now, [agent.pk])
            demand = selectors.case_demands([case], now)[0]
            # The supervisor chooses: a past decline and continuity don't bind them.
            demand = replace(demand, excluded_agents=frozenset(), open_to_all=True)
            reason = core.exclusion_reason(demand, states[0]) if states else core.Exclusion.STATUS
            if reason is not None:
                raise NotAllowed(f"{agent.display_name} may not take case {case_id} now ({reason}); force to override")
        previous = case.assignee_id
        _assign(
            case=case, agent=agent, now=now, via="supervisor", actor=actor, forced=force, previous_agent_id=previous
        )
        if previous is not None:
            record(case=case, kind=CaseEvent.Kind.REASSIGNED, now=now, agent=agent, actor=actor, from_agent_id=previous)
        if force:
            publish_on_commit(
                EscalationRaised(
                    kind="forced_assignment",
                    case_id=case.pk,
                    queue_id=case.queue_id,
                    detail=f"Forced to {agent.display_name}"
                    + (f" by {actor.get_username()}" if actor is not None else ""),
                )
            )
        _release(case, previous)
    return case


def transfer_to_queue(*, case_id: int, queue_id: int, now: datetime, actor=None) -> Case:
    """Move an open case to another queue: it waits there with that queue's
    skills and is routed again; the agent who held it is freed."""
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("customer").filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.status not in OPEN_STATUSES or case.status == CaseStatus.NEW:
            raise NotAllowed(f"case {case_id} is {case.status}")
        queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
        if queue is None:
            raise NotFound(f"no active queue {queue_id}")
        previous_agent, previous_queue = case.assignee_id, case.queue
        _cancel_pending_offer(case, now)
        case.queue = queue
        case.units = queue.case_units
        case.overflow_level = 0
        case.overflow = {}
        case.save(update_fields=["queue", "units", "overflow_level", "overflow", "updated_at"])
        keep = {
            cs.skill_id: (cs.min_proficiency, cs.optional)
            for cs in CaseSkill.objects.filter(case=case, skill__kind=Skill.Kind.LANGUAGE)
        }
        _set_case_skills(case, {**keep, **_required_skills(queue, None)})
        record(
            case=case,
            kind=CaseEvent.Kind.TRANSFERRED,
            now=now,
            actor=actor,
            from_queue=previous_queue.name if previous_queue else None,
            to_queue=queue.name,
        )
        queue_case(case=case, now=now)
        _release(case, previous_agent)
    return case


def _cancel_pending_offer(case: Case, now: datetime) -> None:
    offer = Offer.objects.select_for_update().filter(case=case, status=Offer.Status.PENDING).first()
    if offer is not None:
        offer.status = Offer.Status.CANCELLED
        offer.responded_at = now
        offer.save(update_fields=["status", "responded_at"])
        publish_on_commit(OfferClosed(offer_id=offer.pk, case_id=case.pk, agent_id=offer.agent_id, status=offer.status))
