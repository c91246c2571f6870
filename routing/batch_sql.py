"""The batch router's rows and statements: the waiting cases a batch locks
(on PostgreSQL one prepared statement, rows read in binary) and the offers
it makes, as plain rows rather than model instances, and the writes of a
batch (through the ORM on SQLite, one prepared statement on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce

from agents.models import Agent
from cases.models import Case, CaseEvent, CaseStatus
from routing import bulk, explain
from routing.models import Explanation, Offer

WAITING_FIELDS = (
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


class Waiting:
    """A waiting case locked on PostgreSQL, as the router needs it: the
    columns of ``WAITING_FIELDS`` as attributes (named as on ``Case``),
    without a model instance."""

    __slots__ = WAITING_FIELDS
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
        for name, value in zip(WAITING_FIELDS, row, strict=True):
            setattr(self, name, value)

    @property
    def pk(self) -> int:
        return self.id

    def as_case(self) -> Case:
        """A ``Case`` with these columns loaded (the others load on access)."""
        return _loaded(Case, {name: getattr(self, name) for name in WAITING_FIELDS})


def _loaded(model, values: dict):
    """An instance of ``model`` as if loaded with just these columns (by
    attname; the others load on access)."""
    fields = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db("default", fields, [values[name] for name in fields])


def lock_waiting_sql(*, limit: int, closed, case_ids, after, kinds) -> list[Case | Waiting]:
    """The batch router's lock of waiting cases on PostgreSQL, as a prepared
    statement: the hottest query of
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
    columns = ", ".join(q(Case._meta.get_field(name).column) for name in WAITING_FIELDS)  # type: ignore[union-attr, arg-type]  # columns
    # Names come from the model; every value is a parameter.
    sql = (
        f"SELECT {columns} FROM {q(Case._meta.db_table)} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY route_rank, id LIMIT %s FOR UPDATE SKIP LOCKED"
    )
    with bulk.binary_cursor(prepared=True) as cursor:
        cursor.execute(sql, [*params, limit])
        return [Waiting(row) for row in cursor.fetchall()]


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


class NewOffer:
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
        case = self.case.as_case() if isinstance(self.case, Waiting) else self.case
        if self.status == Offer.Status.ACCEPTED:
            return case
        offer = _loaded(Offer, {"id": self.id, **dict(zip(_OFFER_COLUMNS, self.row(), strict=True))})
        offer.case = case
        return offer


_EVENT_COLUMNS = ("case_id", "kind", "agent_id", "actor_id", "data", "created_at")


def write_with_orm(cases, offers, events, assigned, decisions, now, notes, pulled_by) -> dict[int, int]:
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


def write_in_one_statement(cases, offers, events, assigned, decisions, now, notes, pulled_by) -> dict[int, int]:
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
