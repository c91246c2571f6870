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
class CaseStatusChanged(Event):
    case_id: int
    status: str
    assignee_id: int | None
    queue_id: int | None
