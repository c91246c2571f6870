"""Events the dashboards app publishes on commit (supervisor actions)."""

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class QueueChanged(Event):
    """A queue's settings (priority) changed."""

    queue_id: int
