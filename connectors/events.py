from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class InboundEventFailed(Event):
    event_id: int
    channel_id: int


@dataclass(frozen=True, slots=True)
class CustomerTyping(Event):
    """A web chat's visitor is typing in a chat an agent holds."""

    case_id: int
    agent_id: int
