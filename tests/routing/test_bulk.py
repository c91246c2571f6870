"""The router's many-rows INSERT: every column as given (JSON included),
the new keys mapped back, on PostgreSQL (unnest) as on SQLite (the ORM)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent
from routing import bulk
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db


def test_rows_go_in_whole_and_their_keys_come_back():
    now = timezone.now()
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana")
    cases = [factories.queued_case(chan) for _ in range(3)]
    rows = [
        (c.pk, ana.pk, "api", "pending", now, now + timedelta(seconds=60), None, "", 1 + i, i == 2)
        for i, c in enumerate(cases)
    ]
    ids = bulk.insert(
        Offer,
        (
            "case_id",
            "agent_id",
            "channel_kind",
            "status",
            "created_at",
            "expires_at",
            "responded_at",
            "decline_reason",
            "units",
            "may_interrupt",
        ),
        rows,
        key="case_id",
    )
    assert set(ids) == {c.pk for c in cases}
    for i, case in enumerate(cases):
        offer = Offer.objects.get(pk=ids[case.pk])
        assert (offer.case_id, offer.agent_id, offer.units, offer.may_interrupt) == (case.pk, ana.pk, 1 + i, i == 2)
        assert offer.expires_at == now + timedelta(seconds=60) and offer.responded_at is None

    bulk.insert(
        CaseEvent,
        ("case_id", "kind", "agent_id", "actor_id", "data", "created_at"),
        [(cases[0].pk, "offered", ana.pk, None, {"offer_id": ids[cases[0].pk], "why": ["ñ", 1.5, None]}, now)],
    )
    event = CaseEvent.objects.get(case=cases[0], kind="offered")
    assert event.data == {"offer_id": ids[cases[0].pk], "why": ["ñ", 1.5, None]}
    assert bulk.insert(CaseEvent, ("case_id",), []) == {}
