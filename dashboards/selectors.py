"""What the live pages show, built once per event and shared by the
websocket snapshot and its deltas."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from agents.models import Agent, PresenceStatus
from cases.models import HELD_STATUSES, Case, Message
from routing import selectors as routing_selectors
from routing import services as routing_services
from routing.models import Offer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def offers_with_previews(offer_ids: list[int]) -> list[Offer]:
    """Offers with their case, customer, queue and the first words of the
    customer's first message, in one query."""
    first_text = (
        Message.objects.filter(case=OuterRef("case"), direction=Message.Direction.INBOUND)
        .order_by("created_at", "pk")
        .values("text")[:1]
    )
    return list(
        Offer.objects.filter(pk__in=offer_ids)
        .select_related("case__customer", "case__queue")
        .annotate(first_text=Subquery(first_text))
        .order_by("pk")
    )


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
        "queue": case.queue.name if case.queue_id else None,
        "priority": case.priority,
        "units": offer.units,
        "subject": case.subject,
        "preview": preview[:200],
        "created_at": _iso(offer.created_at),
        "expires_at": _iso(offer.expires_at),
    }


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "direction": message.direction,
        "text": message.text,
        "html": message.html,  # sanitized when stored
        "author": message.author_agent.display_name if message.author_agent_id else None,
        "delivery_status": message.delivery_status,
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
        "queue": case.queue.name if case.queue_id else None,
        "priority": case.priority,
        "units": case.units,
        "assignee_id": case.assignee_id,
        "language": case.language,
        "created_at": _iso(case.created_at),
        "last_customer_message_at": _iso(case.last_customer_message_at),
        "first_response_at": _iso(case.first_response_at),
    }
    if with_messages:
        data["messages"] = [
            message_payload(m) for m in case.messages.select_related("author_agent").order_by("created_at", "pk")
        ]
    return data


def agent_payload(agent: Agent, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    load = routing_selectors.agent_loads([agent.pk]).get(agent.pk, {})
    return {
        "id": agent.pk,
        "name": agent.display_name,
        "status_id": agent.status_id,
        "status": agent.status.name if agent.status_id else None,
        "channel_kinds": list(agent.status.channel_kinds) if agent.status_id else [],
        "present": agent.is_present(now),
        "status_reason": agent.status_reason,
        "capacity_total": agent.capacity_total,
        "capacities": {c.channel_kind: c.units for c in agent.capacities.all()},
        "load": dict(load),
    }


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
        "offers": [offer_payload(o) for o in routing_selectors.pending_offers_for(agent)],
        "cases": [case_payload(c) for c in cases],
        "decline_reasons": routing_services.decline_reasons(),
    }
