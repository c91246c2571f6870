"""Events the SLA app publishes on commit (besides cases.events.EscalationRaised)."""

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class PromiseReminded(Event):
    """A promise an agent made is due soon: remind that agent."""

    promise_id: int
    case_id: int
    agent_id: int | None
    due_at: str


@dataclass(frozen=True, slots=True)
class SlaChanged(Event):
    """A case's clocks changed (started, paused, resumed, met, warned, breached)."""

    case_id: int
    sla_due_at: str | None
