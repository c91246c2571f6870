"""Events the router publishes on commit."""

from dataclasses import dataclass
from datetime import datetime

from cases.events import CaseStatusChanged
from config.events import Event


@dataclass(frozen=True, slots=True)
class OfferCreated(Event):
    offer_id: int
    case_id: int
    agent_id: int
    queued_at: datetime | None = None  # when the case began waiting (metrics: time to decision)


@dataclass(frozen=True, slots=True)
class OfferClosed(Event):
    offer_id: int
    case_id: int
    agent_id: int
    status: str


@dataclass(frozen=True, slots=True)
class CaseAssigned(Event):
    case_id: int
    agent_id: int
    queue_id: int | None
    queued_at: datetime | None = None  # when the case began waiting


@dataclass(frozen=True, slots=True)
class CaseEscalated(Event):
    """Something about a case needs a supervisor (a response timer ran out)."""

    case_id: int
    queue_id: int | None
    reason: str


def case_status_changed(case) -> CaseStatusChanged:
    """The ``CaseStatusChanged`` a router write publishes for ``case``."""
    return CaseStatusChanged(case_id=case.pk, status=case.status, assignee_id=case.assignee_id, queue_id=case.queue_id)
