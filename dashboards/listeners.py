"""Listeners: domain events (published on commit) → websocket groups."""

from __future__ import annotations

from django.utils import timezone

from agents.events import AgentChanged
from agents.models import Agent
from cases.events import CaseCreated, CaseStatusChanged, EscalationRaised, MessageAdded, MessageStatusChanged
from cases.models import Case, Message
from config import events
from config.fanout import group_send, group_send_many
from connectors.events import CustomerTyping, InboundEventFailed
from dashboards import selectors
from dashboards.events import QueueChanged
from dashboards.models import Escalation
from dashboards.scope import agent_group
from dashboards.streams import coalescer
from routing.events import CaseAssigned, CaseEscalated, OfferClosed, OfferCreated


def on_offers_created(batch: list[OfferCreated]) -> None:
    """Offers reach their agents' sockets: one query for a router's whole batch."""
    payloads = selectors.offer_payloads([(event.offer_id, event.case_id) for event in batch])
    group_send_many(
        [(agent_group(agent_id), {"type": "offer.created", "offer": payload}) for agent_id, payload in payloads]
    )


def on_offer_closed(event: OfferClosed) -> None:
    group_send(
        agent_group(event.agent_id),
        {"type": "offer.closed", "offer_id": event.offer_id, "case_id": event.case_id, "status": event.status},
    )


def on_cases_changed(batch: list[CaseAssigned | CaseStatusChanged]) -> None:
    """Cases assigned or changed reach their assignees' sockets: one push per
    case and agent however many events the batch holds about it (an
    auto-accepted case is both assigned and changed), with the case's
    messages when it was just assigned; one query for the cases, one for
    those messages, one pipelined send for the whole batch."""
    wanted: dict[tuple[int, int], bool] = {}  # (case, agent) -> with messages
    for event in batch:
        assigned = isinstance(event, CaseAssigned)
        agent_id = event.agent_id if assigned else event.assignee_id  # type: ignore[union-attr]  # isinstance above
        if agent_id is not None:
            key = (event.case_id, agent_id)
            wanted[key] = wanted.get(key, False) or assigned
    if not wanted:
        return
    payloads, messages = selectors.case_payloads(
        {case_id for case_id, _ in wanted}, with_messages={case_id for (case_id, _), m in wanted.items() if m}
    )
    sends = []
    for (case_id, agent_id), with_messages in wanted.items():
        if case_id in payloads:
            case = {**payloads[case_id], "messages": messages[case_id]} if with_messages else payloads[case_id]
            sends.append((agent_group(agent_id), {"type": "case.updated", "case": case}))
    group_send_many(sends)


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


def on_message_status_changed(event: MessageStatusChanged) -> None:
    """A reply's delivery (sent, delivered, read, failed) to the case's agent."""
    assignee_id = Case.objects.filter(pk=event.case_id).values_list("assignee_id", flat=True).first()
    if assignee_id is None:
        return
    group_send(
        agent_group(assignee_id),
        {
            "type": "message.status",
            "case": event.case_id,
            "message": event.message_id,
            "status": event.status,
            "error": event.error,
        },
    )


def on_customer_typing(event: CustomerTyping) -> None:
    """A web chat's visitor is typing: the agent holding the chat sees it."""
    group_send(agent_group(event.agent_id), {"type": "customer.typing", "case_id": event.case_id})


def on_agent_changed(event: AgentChanged) -> None:
    agent = Agent.objects.select_related("status").prefetch_related("capacities").filter(pk=event.agent_id).first()
    if agent is None:
        return
    group_send(agent_group(agent.pk), {"type": "agent.updated", "agent": selectors.agent_payload(agent)})


# --- Supervisor dashboards: mark what changed; the coalescer sends it. ---------


def supervise_offers(batch: list[OfferCreated]) -> None:
    coalescer.mark(cases=[e.case_id for e in batch], agents=[e.agent_id for e in batch])


def supervise_offer_closed(event: OfferClosed) -> None:
    coalescer.mark(cases=[event.case_id], agents=[event.agent_id])


def supervise_assigned(event: CaseAssigned) -> None:
    coalescer.mark(queues=[event.queue_id], agents=[event.agent_id])


def supervise_status(batch: list[CaseStatusChanged]) -> None:
    coalescer.mark(queues=[e.queue_id for e in batch], agents=[e.assignee_id for e in batch])


def supervise_created(batch: list[CaseCreated]) -> None:
    coalescer.mark(cases=[e.case_id for e in batch])


def supervise_agent(batch: list[AgentChanged]) -> None:
    coalescer.mark(agents=[e.agent_id for e in batch])


def supervise_queue(event: QueueChanged) -> None:
    coalescer.mark(queues=[event.queue_id])


def _feed(kind: str, case_id: int | None, queue_id: int | None, detail: str) -> None:
    if queue_id is None and case_id is not None:
        queue_id = Case.objects.filter(pk=case_id).values_list("queue_id", flat=True).first()
    item = Escalation.objects.create(
        kind=kind, case_id=case_id, queue_id=queue_id, detail=detail[:500], created_at=timezone.now()
    )
    coalescer.mark(escalations=[item.pk], queues=[queue_id])


def on_escalations_raised(batch: list[EscalationRaised]) -> None:
    """An SLA scan raises up to a thousand at once: one query for the queues
    it did not name, one insert, one mark."""
    missing = {e.case_id for e in batch if e.queue_id is None and e.case_id is not None}
    queues = dict(Case.objects.filter(pk__in=missing).values_list("pk", "queue_id")) if missing else {}
    now = timezone.now()
    items = Escalation.objects.bulk_create(
        [
            Escalation(
                kind=e.kind,
                case_id=e.case_id,
                queue_id=e.queue_id if e.queue_id is not None else queues.get(e.case_id),  # type: ignore[arg-type]  # None: None
                detail=e.detail[:500],
                created_at=now,
            )
            for e in batch
        ]
    )
    coalescer.mark(escalations=[item.pk for item in items], queues=[item.queue_id for item in items])


def on_case_escalated(event: CaseEscalated) -> None:
    _feed("response_timer", event.case_id, event.queue_id, event.reason)


def on_inbound_failed(event: InboundEventFailed) -> None:
    from connectors.models import InboundEvent

    row = (
        InboundEvent.objects.filter(pk=event.event_id)
        .values_list("error", "channel__name", "channel__default_queue_id")
        .first()
    )
    error, channel, queue_id = row if row else ("", "?", None)
    _feed("inbound_failed", None, queue_id, f"Inbound event {event.event_id} on {channel} failed: {error}")


def connect() -> None:
    events.subscribe(InboundEventFailed, on_inbound_failed)
    events.subscribe_batch(OfferCreated, supervise_offers)
    events.subscribe(OfferClosed, supervise_offer_closed)
    events.subscribe(CaseAssigned, supervise_assigned)
    events.subscribe_batch(CaseStatusChanged, supervise_status)
    events.subscribe_batch(CaseCreated, supervise_created)
    events.subscribe_batch(AgentChanged, supervise_agent)
    events.subscribe(QueueChanged, supervise_queue)
    events.subscribe_batch(EscalationRaised, on_escalations_raised)
    events.subscribe(CaseEscalated, on_case_escalated)
    events.subscribe_batch(OfferCreated, on_offers_created)
    events.subscribe(OfferClosed, on_offer_closed)
    events.subscribe_batch((CaseAssigned, CaseStatusChanged), on_cases_changed)
    events.subscribe(MessageAdded, on_message_added)
    events.subscribe(MessageStatusChanged, on_message_status_changed)
    events.subscribe(AgentChanged, on_agent_changed)
    events.subscribe(CustomerTyping, on_customer_typing)
