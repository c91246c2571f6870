"""Listeners: domain events (published on commit) → websocket groups."""

from __future__ import annotations

from agents.events import AgentChanged
from agents.models import Agent
from cases.events import CaseStatusChanged, MessageAdded
from cases.models import Case, Message
from config import events
from dashboards import selectors
from dashboards.fanout import agent_group, group_send, group_send_many
from routing.events import CaseAssigned, OfferClosed, OfferCreated


def on_offers_created(batch: list[OfferCreated]) -> None:
    """Offers reach their agents' sockets: one query for a router's whole batch."""
    offers = selectors.offers_with_previews([event.offer_id for event in batch])
    group_send_many(
        [
            (agent_group(offer.agent_id), {"type": "offer.created", "offer": selectors.offer_payload(offer)})
            for offer in offers
        ]
    )


def on_offer_closed(event: OfferClosed) -> None:
    group_send(
        agent_group(event.agent_id),
        {"type": "offer.closed", "offer_id": event.offer_id, "case_id": event.case_id, "status": event.status},
    )


def _case_to_assignee(case_id: int, agent_id: int | None, *, with_messages: bool = False) -> None:
    if agent_id is None:
        return
    case = Case.objects.select_related("customer", "queue").filter(pk=case_id).first()
    if case is None:
        return
    group_send(
        agent_group(agent_id),
        {"type": "case.updated", "case": selectors.case_payload(case, with_messages=with_messages)},
    )


def on_case_assigned(event: CaseAssigned) -> None:
    _case_to_assignee(event.case_id, event.agent_id, with_messages=True)


def on_case_status_changed(event: CaseStatusChanged) -> None:
    _case_to_assignee(event.case_id, event.assignee_id)


def on_message_added(event: MessageAdded) -> None:
    if event.assignee_id is None:
        return
    message = Message.objects.select_related("author_agent").filter(pk=event.message_id).first()
    if message is None:
        return
    group_send(
        agent_group(event.assignee_id),
        {"type": "message.added", "case_id": event.case_id, "message": selectors.message_payload(message)},
    )


def on_agent_changed(event: AgentChanged) -> None:
    agent = Agent.objects.select_related("status").prefetch_related("capacities").filter(pk=event.agent_id).first()
    if agent is None:
        return
    group_send(agent_group(agent.pk), {"type": "agent.updated", "agent": selectors.agent_payload(agent)})


def connect() -> None:
    events.subscribe_batch(OfferCreated, on_offers_created)
    events.subscribe(OfferClosed, on_offer_closed)
    events.subscribe(CaseAssigned, on_case_assigned)
    events.subscribe(CaseStatusChanged, on_case_status_changed)
    events.subscribe(MessageAdded, on_message_added)
    events.subscribe(AgentChanged, on_agent_changed)
