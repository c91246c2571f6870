"""What the reports app hears: agents' presence changes (kept in the
presence log) and the router's decisions (counted for /metrics)."""

from __future__ import annotations

from agents.events import AgentChanged
from config import events
from reports import metrics, presence
from routing.events import CaseAssigned, OfferCreated


def on_agents_changed(batch: list[AgentChanged]) -> None:
    for agent_id in dict.fromkeys(e.agent_id for e in batch):
        presence.record_status(agent_id=agent_id)


def connect() -> None:
    events.subscribe_batch(AgentChanged, on_agents_changed)
    events.subscribe_batch(OfferCreated, metrics.count_offers_made)
    events.subscribe_batch(CaseAssigned, metrics.count_assignments)
