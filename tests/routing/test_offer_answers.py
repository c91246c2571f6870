"""Answers to offers: missed offers set the agent away, decline reasons,
auto-accept per channel kind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases.models import Case, CaseEvent, CaseStatus
from config.api import Invalid
from routing.batch import route_case, route_waiting
from routing.models import DeclineReason, Offer, RoutingSettings
from routing.offers import accept_offer, decline_offer, expire_offers
from tests import factories

pytestmark = pytest.mark.django_db


# --- Missed offers set the agent away -------------------------------------------------------


@pytest.fixture
def away():
    status = factories.status("Away", [])
    RoutingSettings.objects.create(pk=1, missed_offers_limit=2, away_status=status)
    return status


def test_two_missed_offers_in_a_row_set_the_agent_away(chan, now, away):
    ana = factories.agent("ana")
    first = factories.queued_case(chan)
    second = factories.queued_case(chan)
    assert route_waiting(now=now) == 2
    assert set(Offer.objects.values_list("agent_id", flat=True)) == {ana.pk}

    assert expire_offers(now=now + timedelta(seconds=61)) == 2

    ana.refresh_from_db()
    assert ana.status == away
    assert ana.status_reason == "Set to Away after 2 missed offers in a row."
    assert ana.missed_offers == 0
    assert ana.status_since == now + timedelta(seconds=61)
    for case in (first, second):
        case.refresh_from_db()
        assert case.status == CaseStatus.QUEUED
    assert route_waiting(now=now + timedelta(seconds=62)) == 0  # away is not routable


def test_one_missed_offer_does_not_set_the_agent_away(chan, now, away):
    ana = factories.agent("ana")
    factories.queued_case(chan)
    route_waiting(now=now)

    assert expire_offers(now=now + timedelta(seconds=61)) == 1

    ana.refresh_from_db()
    assert ana.status != away and ana.missed_offers == 1 and ana.status_reason == ""


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_between_misses_resets_the_count(chan, now, away, answer):
    ana = factories.agent("ana")
    missed = factories.queued_case(chan)
    route_case(case_id=missed.pk, now=now)
    assert expire_offers(now=now + timedelta(seconds=61)) == 1
    answered = factories.queued_case(chan)
    offer = route_case(case_id=answered.pk, now=now + timedelta(seconds=62))
    if answer == "accept":
        accept_offer(offer_id=offer.pk, agent=ana, now=now + timedelta(seconds=63))
    else:
        decline_offer(offer_id=offer.pk, agent=ana, reason="", now=now + timedelta(seconds=63))
    ana.refresh_from_db()
    assert ana.missed_offers == 0
    third = factories.queued_case(chan)
    route_case(case_id=third.pk, now=now + timedelta(seconds=64))

    assert expire_offers(now=now + timedelta(seconds=130)) == 1

    ana.refresh_from_db()
    assert ana.status != away and ana.missed_offers == 1


# --- Decline reasons ----------------------------------------------------------------------------


def test_a_reason_outside_the_configured_list_is_refused(chan, now):
    DeclineReason.objects.create(label="Wrong language", order=1)
    DeclineReason.objects.create(label="Busy", order=2)
    DeclineReason.objects.create(label="Retired", is_active=False)
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)

    for reason in ("Tired", "Retired", ""):
        with pytest.raises(Invalid, match="reason must be one of: Wrong language, Busy"):
            decline_offer(offer_id=offer.pk, agent=ana, reason=reason, now=now)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING

    decline_offer(offer_id=offer.pk, agent=ana, reason="Busy", now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED and offer.decline_reason == "Busy"
    assert case.events.get(kind=CaseEvent.Kind.OFFER_DECLINED).data["reason"] == "Busy"


def test_without_configured_reasons_any_text_is_accepted(chan, now):
    ana = factories.agent("ana")
    offer = route_case(case_id=factories.queued_case(chan).pk, now=now)

    decline_offer(offer_id=offer.pk, agent=ana, reason="  Anything at all  ", now=now)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED and offer.decline_reason == "Anything at all"


# --- Auto-accept per channel kind -----------------------------------------------------------


def test_auto_accept_per_channel_kind(now):
    queue = factories.queue("Mixed", auto_accept_channel_kinds=["email"])
    mail = factories.channel("mail", kind="email", default_queue=queue)
    chat = factories.channel("chat", kind="web_chat", default_queue=queue)
    api = factories.channel("api", kind="api", default_queue=queue)
    ana = factories.agent("ana")
    email_case = factories.queued_case(mail)
    chat_case = factories.queued_case(chat)
    api_case = factories.queued_case(api)

    assigned = route_case(case_id=email_case.pk, now=now)
    chat_offer = route_case(case_id=chat_case.pk, now=now)
    api_offer = route_case(case_id=api_case.pk, now=now)

    assert isinstance(assigned, Case)
    email_case.refresh_from_db()
    assert email_case.status == CaseStatus.ASSIGNED and email_case.assignee == ana
    assert email_case.first_assigned_at == now
    assert list(Offer.objects.filter(case=email_case).values_list("status", flat=True)) == [Offer.Status.ACCEPTED]
    event = email_case.events.get(kind=CaseEvent.Kind.ASSIGNED)
    assert event.agent == ana and event.data["via"] == "auto_accept"
    for case, offer in ((chat_case, chat_offer), (api_case, api_offer)):
        assert isinstance(offer, Offer) and offer.status == Offer.Status.PENDING and offer.agent == ana
        case.refresh_from_db()
        assert case.status == CaseStatus.OFFERED and case.assignee is None
