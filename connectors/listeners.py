"""Connectors' reactions to the layers below: send what an app queued for
the customer (the web chat's survey card: ``connectors/webchat/listeners.py``).

- ``OutboundQueued`` (an agent's reply, a survey sent as a message): the
  delivery task, handed to ``config.background`` at once, as the services'
  own on-commit call did before: the same Celery task on the ``outbound``
  queue, claimed there so a message is sent once.
"""

from __future__ import annotations

from cases.events import OutboundQueued
from config import background, events


def on_outbound_queued(event: OutboundQueued) -> None:
    from connectors.tasks import deliver_message

    background.run_now(deliver_message, message_id=event.message_id)


def connect() -> None:
    events.subscribe(OutboundQueued, on_outbound_queued)
