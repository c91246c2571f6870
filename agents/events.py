from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class AgentChanged(Event):
    """Status, presence or capacity of an agent changed."""

    agent_id: int
