"""Fuzzed telephony JSON events, signed: never a 5xx; accepted events are
applied or ignored, never left failed."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls.normalized import CALL_EVENTS
from connectors import services
from connectors.models import InboundEvent
from tests import factories

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=30),
    st.sampled_from(
        ["+34911234567", "+14155550100", "anonymous", "\x00", "https://x.example/r.mp3", "2026-11-23T10:00:00Z"]
    ),
)
events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=12), st.integers()),
        "call_id": st.one_of(st.sampled_from(["c1", "c2"]), scalars),
        "event": st.one_of(st.sampled_from(CALL_EVENTS), scalars),
        "direction": st.one_of(st.sampled_from(["inbound", "outbound"]), scalars),
        "from": scalars,
        "to": scalars,
        "caller_name": scalars,
        "at": scalars,
        "duration_seconds": scalars,
        "recording_url": scalars,
        "transcription": scalars,
        "transfer_to": scalars,
        "agent": scalars,
        "extra": scalars,
    },
)


@FUZZ
@given(body=st.one_of(events, st.lists(scalars, max_size=3), scalars))
def test_fuzzed_events_never_make_a_5xx(pbx, body):
    response = factories.post_webhook(Client(), pbx, json.dumps(body).encode())

    assert response.status_code in (200, 202, 400), response.content
    if response.status_code == 202:
        event = services.process_event(event_id=response.json()["event_id"], now=timezone.now())
        assert event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED), event.traceback
