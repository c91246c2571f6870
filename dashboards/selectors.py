"""What the live pages show, built once per event and shared by the
websocket snapshot and its deltas."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime

from django.utils import timezone

from agents.models import Agent, PresenceStatus
from cases.models import HELD_STATUSES, Case, Message
from cases.selectors import reply_window_closes_at
from routing.bulk import among, fast_cursor
from routing.loads import agent_loads
from routing.models import Offer, Queue
from routing.offers import decline_reasons, pending_offers_for


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def offer_payloads(offers: Sequence[tuple[int, int]]) -> list[tuple[int, dict]]:
    """(agent id, ``offer_payload``) of each offer, given as (offer id, case
    id), in one query and no model instances: a router's whole batch of
    offers goes out to the agents with this. Must say exactly what
    ``offer_payload`` says of the same offer.

    Both ids bound the query, so each table is read through its primary key
    for exactly these rows: with the offers' ids alone, PostgreSQL may merge
    the offers with a scan of every case up to the highest id (it did, 80 ms
    a batch, when its statistics predated the backlog)."""
    from django.utils.dateparse import parse_datetime

    if not offers:
        return []

    def when(value):
        if isinstance(value, str):  # SQLite gives text
            value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value

    from routing.models import Queue

    case, message = Case._meta.db_table, Message._meta.db_table
    customer = Case._meta.get_field("customer").related_model._meta.db_table
    by_offer, offer_ids = among("o.id", [offer_id for offer_id, _ in offers])
    by_case, case_ids = among("c.id", [case_id for _, case_id in offers])
    # Table names come from the models; every value is a parameter.
    sql = f"""
        SELECT o.id, o.status, o.agent_id, o.units, o.created_at, o.expires_at,
               c.id, c.channel_kind, c.priority, c.subject, c.sla_due_at, c.customer_id,
               cu.display_name, cu.tier, q.name,
               (SELECT m.text FROM {message} m WHERE m.case_id = c.id AND m.direction = %s
                 ORDER BY m.created_at, m.id LIMIT 1)
          FROM {Offer._meta.db_table} o
          JOIN {case} c ON c.id = o.case_id
          JOIN {customer} cu ON cu.id = c.customer_id
          LEFT JOIN {Queue._meta.db_table} q ON q.id = c.queue_id
         WHERE {by_offer} AND {by_case}
         ORDER BY o.id
    """  # noqa: S608
    with fast_cursor() as cursor:  # prepared once per connection on PostgreSQL
        cursor.execute(sql, [Message.Direction.INBOUND, *offer_ids, *case_ids])
        rows = cursor.fetchall()
    from sla.selectors import seconds_left

    now = timezone.now()
    out = []
    for (
        offer_id,
        status,
        agent_id,
        units,
        created_at,
        expires_at,
        case_id,
        kind,
        priority,
        subject,
        sla_due_at,
        customer_id,
        display_name,
        tier,
        queue_name,
        preview,
    ) in rows:
        sla_due_at = when(sla_due_at)
        out.append(
            (
                agent_id,
                {
                    "id": offer_id,
                    "status": status,
                    "case_id": case_id,
                    "channel_kind": kind,
                    "customer": display_name or f"Customer {customer_id}",
                    "vip": tier == "vip",
                    "queue": queue_name,
                    "priority": priority,
                    "units": units,
                    "subject": subject,
                    "preview": (preview or "")[:200],
                    "created_at": _iso(when(created_at)),
                    "expires_at": _iso(when(expires_at)),
                    "sla_due_at": _iso(sla_due_at),
                    "sla_seconds_left": seconds_left(sla_due_at, now),
                },
            )
        )
    return out


def offer_payload(offer: Offer) -> dict:
    case = offer.case
    if hasattr(offer, "first_text"):
        preview = offer.first_text or ""
    else:
        first = case.messages.filter(direction=Message.Direction.INBOUND).order_by("created_at", "pk").first()
        preview = first.text if first else ""
    return {
        "id": offer.pk,
        "status": offer.status,
        "case_id": case.pk,
        "channel_kind": case.channel_kind,
        "customer": case.customer.display_name or f"Customer {case.customer_id}",
        "vip": case.customer.tier == "vip",
        "queue": case.queue.name if case.queue_id else None,  # type: ignore[union-attr]  # queue_id checked
        "priority": case.priority,
        "units": offer.units,
        "subject": case.subject,
        "preview": preview[:200],
        "created_at": _iso(offer.created_at),
        "expires_at": _iso(offer.expires_at),
        **_sla(case),
    }


def _sla(case: Case) -> dict:
    """The next SLA target of the case: when it is due and the seconds left
    (negative once breached); None without a running target."""
    from sla.selectors import seconds_left

    return {"sla_due_at": _iso(case.sla_due_at), "sla_seconds_left": seconds_left(case.sla_due_at, timezone.now())}


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "direction": message.direction,
        "text": message.text,
        "html": message.html,  # sanitized when stored
        "author": message.author_agent.display_name if message.author_agent_id else None,  # type: ignore[union-attr]  # author_agent_id checked
        "delivery_status": message.delivery_status,
        "delivery_error": message.delivery_error,
        "created_at": _iso(message.created_at),
        "attachments": message.attachments,
    }


def case_payload(case: Case, *, with_messages: bool = False) -> dict:
    data = {
        "id": case.pk,
        "status": case.status,
        "channel_kind": case.channel_kind,
        "subject": case.subject,
        "customer": case.customer.display_name or f"Customer {case.customer_id}",
        "customer_id": case.customer_id,
        "queue": case.queue.name if case.queue_id else None,  # type: ignore[union-attr]  # queue_id checked
        "priority": case.priority,
        "units": case.units,
        "assignee_id": case.assignee_id,
        "language": case.language,
        "created_at": _iso(case.created_at),
        "last_customer_message_at": _iso(case.last_customer_message_at),
        "window_closes_at": _iso(reply_window_closes_at(case)),
        "first_response_at": _iso(case.first_response_at),
        **_sla(case),
    }
    if with_messages:
        data["messages"] = [
            message_payload(m) for m in case.messages.select_related("author_agent").order_by("created_at", "pk")
        ]
    return data


def case_payloads(case_ids: set[int], *, with_messages: AbstractSet[int] = frozenset()) -> tuple[dict, dict]:
    """``case_payload`` of each case (id -> payload), and the message
    payloads of the cases in ``with_messages`` (id -> list, oldest first):
    two queries for any number of cases."""
    cases = Case.objects.select_related("customer", "queue").filter(pk__in=list(case_ids))
    payloads = {case.pk: case_payload(case) for case in cases}
    messages: dict[int, list[dict]] = {case_id: [] for case_id in with_messages}
    if with_messages:
        rows = (
            Message.objects.filter(case_id__in=list(with_messages))
            .select_related("author_agent")
            .order_by("case_id", "created_at", "pk")
        )
        for message in rows:
            messages[message.case_id].append(message_payload(message))
    return payloads, messages


def agent_payload(agent: Agent, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    load = agent_loads([agent.pk]).get(agent.pk, {})
    return {
        "id": agent.pk,
        "name": agent.display_name,
        "status_id": agent.status_id,
        "status": agent.status.name if agent.status_id else None,  # type: ignore[union-attr]  # status_id checked
        "channel_kinds": list(agent.status.channel_kinds) if agent.status_id else [],  # type: ignore[union-attr]  # same
        "present": agent.is_present(now),
        "status_reason": agent.status_reason,
        "capacity_total": agent.capacity_total,
        "capacities": {c.channel_kind: c.units for c in agent.capacities.all()},
        "load": dict(load),
    }


def pending_offer_ids(agent_id: int) -> list[int]:
    """The agent's pending offers (one index lookup)."""
    return sorted(Offer.objects.filter(agent_id=agent_id, status=Offer.Status.PENDING).values_list("pk", flat=True))


def agent_snapshot(agent_id: int) -> dict:
    agent = Agent.objects.select_related("status").prefetch_related("capacities").get(pk=agent_id)
    cases = (
        Case.objects.filter(assignee=agent, status__in=HELD_STATUSES)
        .select_related("customer", "queue")
        .order_by("created_at")
    )
    return {
        "agent": agent_payload(agent),
        "statuses": [
            {"id": s.pk, "name": s.name, "channel_kinds": s.channel_kinds} for s in PresenceStatus.objects.all()
        ],
        "offers": [offer_payload(o) for o in pending_offers_for(agent)],
        "cases": [case_payload(c) for c in cases],
        "decline_reasons": decline_reasons(),
        "queues": [{"id": q.pk, "name": q.name} for q in Queue.objects.filter(is_active=True).order_by("name")],
        "colleagues": [
            {"id": pk, "name": name}
            for pk, name in Agent.objects.filter(is_active=True)
            .exclude(pk=agent_id)
            .order_by("display_name")
            .values_list("pk", "display_name")
        ],
        "promises": _open_promises([c.pk for c in cases]),
    }


def _open_promises(case_ids: list[int]) -> dict[int, str | None]:
    """The earliest open follow-up promise of each case: the case list sorts by it."""
    from django.db.models import Min

    from sla.models import Promise

    rows = (
        Promise.objects.filter(case_id__in=case_ids, status=Promise.Status.OPEN)
        .values("case_id")
        .annotate(due=Min("due_at"))
    )
    return {row["case_id"]: _iso(row["due"]) for row in rows}
