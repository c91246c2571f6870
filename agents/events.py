from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class AgentChanged(Event):
    """Status, presence or capacity of an agent changed."""

    agent_id: int


@dataclass(frozen=True, slots=True)
class AgentGainedRoom(Event):
    """The agent may take more work now: it came online, chose a status that
    takes work, gained capacity, or freed a case. Routing offers it waiting
    cases (``routing/listeners.py``)."""

    agent_id: int
