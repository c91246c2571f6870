from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class InboundEventFailed(Event):
    event_id: int
    channel_id: int
