"""A router batch's offers reach agents through one query (``offer_payloads``);
it must say exactly what the per-offer payload says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Message
from dashboards import selectors
from routing.batch import route_case
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db


def test_batch_payloads_say_what_the_single_payload_says():
    now = timezone.now()
    chan = factories.channel("web", default_queue=factories.queue("General"))
    nameless = factories.channel("api2")
    factories.agent("ana", capacity={"api": 5}, total=5)
    factories.agent("ben", capacity={"api": 5}, total=5)
    vip = factories.queued_case(chan, tier="vip", sla_due_at=now + timedelta(minutes=7))
    Message.objects.create(
        case=vip, direction="in", channel_kind="api", text="first words " * 40, created_at=now - timedelta(seconds=5)
    )
    Message.objects.create(case=vip, direction="in", channel_kind="api", text="later", created_at=now)
    plain = factories.queued_case(nameless)  # no queue, no message
    plain.customer.display_name = ""
    plain.customer.save()
    offers = [route_case(case_id=c.pk, now=now) for c in (vip, plain)]
    assert all(isinstance(o, Offer) for o in offers)

    batch = selectors.offer_payloads([(o.pk, o.case_id) for o in offers])
    assert sorted((agent_id, p["id"]) for agent_id, p in batch) == sorted((o.agent_id, o.pk) for o in offers)
    for _, payload in batch:
        offer = Offer.objects.select_related("case__customer", "case__queue").get(pk=payload["id"])
        single = selectors.offer_payload(offer)
        left, single_left = payload.pop("sla_seconds_left"), single.pop("sla_seconds_left")
        assert payload == single
        # Computed a moment apart: the seconds left may differ by one.
        assert (left is None) == (single_left is None)
        assert left is None or abs(left - single_left) <= 1
    by_case = {p["case_id"]: p for _, p in batch}
    assert by_case[vip.pk]["preview"] == ("first words " * 40)[:200]
    assert by_case[vip.pk]["vip"] is True and by_case[vip.pk]["queue"] == "General"
    assert by_case[plain.pk]["preview"] == "" and by_case[plain.pk]["queue"] is None
    assert by_case[plain.pk]["customer"] == f"Customer {plain.customer_id}"
    assert selectors.offer_payloads([]) == []
