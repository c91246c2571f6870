"""Phone channels for the telephony tests: a PBX sending signed JSON events,
and a Twilio Voice number."""

from __future__ import annotations

import itertools

import pytest

from connectors.models import Channel
from routing.models import Queue
from tests import factories
from tests.connectors.conftest import deliver  # noqa: F401  (the signed webhook sender)

_ids = itertools.count(1)


@pytest.fixture
def voice_queue(db) -> Queue:
    # A call takes the agent's whole voice capacity (2 units of 2).
    return factories.queue("Phone", auto_accept=True, case_units=2)


@pytest.fixture
def pbx(voice_queue) -> Channel:
    return Channel.objects.create(
        key="pbx", name="PBX", kind="voice", provider="telephony_json", default_queue=voice_queue
    )


@pytest.fixture
def call_event():
    def _event(call_id: str, event: str, **fields) -> dict:
        body = {"id": f"evt-{next(_ids)}", "call_id": call_id, "event": event, "from": "+34911234567"}
        body.update(fields)
        return body

    return _event
