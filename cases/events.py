"""Events the cases app publishes on commit."""

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class CaseCreated(Event):
    case_id: int
    customer_id: int


@dataclass(frozen=True, slots=True)
class MessageAdded(Event):
    case_id: int
    message_id: int
    direction: str
    assignee_id: int | None


@dataclass(frozen=True, slots=True)
class OutboundQueued(Event):
    """An outbound message (an agent's reply, a survey) was stored to be sent
    on its case's channel: connectors deliver it (``connectors/listeners.py``).
    Not published for lines already sent elsewhere (a bot's transcript)."""

    case_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class MessageStatusChanged(Event):
    """One of our replies was sent, delivered, read or failed (``error``)."""

    case_id: int
    message_id: int
    status: str
    error: str


@dataclass(frozen=True, slots=True)
class CaseStatusChanged(Event):
    case_id: int
    status: str
    assignee_id: int | None
    queue_id: int | None


@dataclass(frozen=True, slots=True)
class EscalationRaised(Event):
    """Something supervisors should see in the live escalation feed.

    ``kind`` is one of: sla_warning, sla_breach, promise_missed, overflow,
    forced_assignment, response_timer, outbound_failed, inbound_failed.
    ``detail`` is a short human sentence ("First response due in 5 min").
    """

    kind: str
    case_id: int | None
    queue_id: int | None
    detail: str
