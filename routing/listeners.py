"""Routing's reactions to the layers below: an agent who may take more work
(came online, chose a status that takes work, gained capacity, freed a case)
is offered waiting cases.

The listener runs where the event is delivered (at commit in the committing
thread, or in this process's event thread: ``config/events.py``) and hands
the work to ``config.background`` at once, as the services' own on-commit
call did before: the same Celery task, on the same queue."""

from __future__ import annotations

from agents.events import AgentGainedRoom
from config import background, events


def on_agent_gained_room(event: AgentGainedRoom) -> None:
    from routing.tasks import route_agent

    background.run_now(route_agent, agent_id=event.agent_id)


def connect() -> None:
    events.subscribe(AgentGainedRoom, on_agent_gained_room)
