"""Hostile bodies, correctly signed, shaped like Meta's or not: never a 5xx,
never an exception out of the view, and whatever is stored is kept —
processed, ignored or failed with its error."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.models import Channel, InboundEvent
from tests.connectors.meta.conftest import meta_channel, post, wa_message, whatsapp_body

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

words = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", "text", "image", "messages", "statuses", "read", "failed", "feed", "comment", "add", "wamid.X",
         "16505551234", "not a phone", "\x00", "x" * 300, "page", "instagram", "whatsapp_business_account"]
    ),
)  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), words)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(words, inner, max_size=5)),
    max_leaves=20,
)


def _mutations():
    """Real bodies with one part replaced by anything."""
    base = whatsapp_body(wa_message("wamid.F1"))

    def replace(path, value):
        body = json.loads(json.dumps(base))
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return body

    paths = [
        ["entry"],
        ["entry", 0],
        ["entry", 0, "changes"],
        ["entry", 0, "changes", 0, "value"],
        ["entry", 0, "changes", 0, "value", "metadata"],
        ["entry", 0, "changes", 0, "value", "messages"],
        ["entry", 0, "changes", 0, "value", "messages", 0],
        ["entry", 0, "changes", 0, "value", "messages", 0, "from"],
        ["entry", 0, "changes", 0, "value", "messages", 0, "id"],
        ["entry", 0, "changes", 0, "value", "messages", 0, "type"],
        ["entry", 0, "changes", 0, "value", "messages", 0, "text"],
        ["entry", 0, "changes", 0, "value", "messages", 0, "timestamp"],
        ["entry", 0, "changes", 0, "value", "contacts"],
    ]
    return st.tuples(st.sampled_from(paths), values).map(lambda pv: replace(*pv))


def _page_shaped():
    event = st.fixed_dictionaries(
        {"sender": values, "timestamp": values},
        optional={"message": values, "postback": values, "read": values, "delivery": values},
    )
    change = st.fixed_dictionaries({"field": st.sampled_from(["feed", "x"]), "value": values})
    entry = st.fixed_dictionaries(
        {"id": values}, optional={"messaging": st.lists(event, max_size=3), "changes": st.lists(change, max_size=3)}
    )
    return st.fixed_dictionaries(
        {"object": st.sampled_from(["page", "instagram"]), "entry": st.lists(entry, max_size=3)}
    )


bodies = st.one_of(
    values.map(lambda v: json.dumps(v).encode()),
    _mutations().map(lambda b: json.dumps(b).encode()),
    _page_shaped().map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=200),
)


@FUZZ
@given(body=bodies)
def test_signed_hostile_bodies_never_5xx_and_are_kept(django_capture_on_commit_callbacks, body):
    channel = Channel.objects.filter(key="fuzz").first() or meta_channel("fuzz", "whatsapp")
    before = InboundEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(), channel, body)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400 or response.json()["status"] == "accepted":
        assert InboundEvent.objects.count() == before + 1
        event = InboundEvent.objects.order_by("pk").last()
        assert event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED, InboundEvent.Status.FAILED)
        if event.status == InboundEvent.Status.FAILED:
            assert event.error
            assert not event.error.startswith(("TypeError", "AttributeError", "KeyError", "IndexError")), event.error
