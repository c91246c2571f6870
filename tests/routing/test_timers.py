"""After assignment: the response timer and wrap-up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases.models import Case, CaseEvent, CaseStatus
from cases.services import resolve_case, send_reply
from routing.batch import route_case
from routing.errors import NotAllowed
from routing.loads import agent_loads
from routing.models import Offer
from routing.offers import accept_offer
from routing.timers import check_first_replies, end_due_wrap_ups, end_wrap_up
from tests import factories

pytestmark = pytest.mark.django_db


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


# --- Response timer -----------------------------------------------------------------------------


def _assigned(case, agent, at) -> Case:
    offer = route_case(case_id=case.pk, now=at)
    assert offer.agent == agent
    return accept_offer(offer_id=offer.pk, agent=agent, now=at)


def test_no_first_reply_in_time_escalates_once(now):
    queue = factories.queue("Chat", first_reply_minutes=5, first_reply_action="escalate")
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana")
    late = factories.queued_case(chan)
    _assigned(late, ana, now - timedelta(minutes=6))
    recent = factories.queued_case(chan)
    _assigned(recent, ana, now - timedelta(minutes=4))

    assert check_first_replies(now=now) == 1
    assert check_first_replies(now=now + timedelta(seconds=1)) == 0

    late.refresh_from_db()
    assert late.escalated_at == now
    assert late.status == CaseStatus.ASSIGNED and late.assignee == ana
    event = late.events.get(kind=CaseEvent.Kind.ESCALATED)
    assert event.data == {"reason": "no first reply within 5 min"}
    recent.refresh_from_db()
    assert recent.escalated_at is None


def test_a_case_that_got_a_reply_is_not_escalated(now):
    queue = factories.queue("Chat", first_reply_minutes=5)
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana")
    case = factories.queued_case(chan)
    _assigned(case, ana, now - timedelta(minutes=10))
    send_reply(case_id=case.pk, agent=ana, text="Looking into it", now=now - timedelta(minutes=9))

    assert check_first_replies(now=now) == 0

    case.refresh_from_db()
    assert case.escalated_at is None
    assert not case.events.filter(kind__in=[CaseEvent.Kind.ESCALATED, CaseEvent.Kind.RETURNED]).exists()


def test_no_first_reply_in_time_returns_the_case_to_the_queue_without_the_agent(now):
    queue = factories.queue("Chat", first_reply_minutes=5, first_reply_action="requeue")
    chan = factories.channel("chat", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 5})
    case = factories.queued_case(chan)
    _assigned(case, ana, now - timedelta(minutes=6))

    assert check_first_replies(now=now) == 1

    case.refresh_from_db()
    assert case.status == CaseStatus.QUEUED and case.assignee is None
    assert case.overflow["excluded"] == [ana.pk]
    assert case.queued_at == now
    returned = case.events.get(kind=CaseEvent.Kind.RETURNED)
    assert returned.data == {"agent_id": ana.pk, "reason": "no first reply within 5 min"}
    assert agent_loads([ana.pk]) == {}
    # Ana alone: nobody may take it; Ben (less room) gets it once there.
    assert route_case(case_id=case.pk, now=now) is None
    ben = factories.agent("ben", capacity={"api": 1})
    assert route_case(case_id=case.pk, now=now).agent == ben
    assert check_first_replies(now=now + timedelta(minutes=10)) == 0


# --- Wrap-up --------------------------------------------------------------------------------------


@pytest.fixture
def wrap(now):
    queue = factories.queue("Calls", wrap_up_seconds=60)
    chan = factories.channel("calls", default_queue=queue)
    ana = factories.agent("ana", capacity={"api": 1})
    first = factories.queued_case(chan, at=now - timedelta(seconds=2))
    second = factories.queued_case(chan, at=now - timedelta(seconds=1))
    _assigned(first, ana, now)
    return ana, first, second


def test_resolving_puts_the_case_in_wrap_up_holding_capacity(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap

    with django_capture_on_commit_callbacks(execute=True):
        case = resolve_case(case_id=first.pk, agent=ana, now=now)

    assert case.status == CaseStatus.WRAP_UP
    first.refresh_from_db()
    assert first.status == CaseStatus.WRAP_UP and first.assignee == ana
    assert first.wrap_up_until == now + timedelta(seconds=60) and first.resolved_at == now
    assert first.events.get(kind=CaseEvent.Kind.WRAP_UP).data == {"until": first.wrap_up_until.isoformat()}
    assert agent_loads([ana.pk]) == {ana.pk: {"api": 1}}
    assert route_case(case_id=second.pk, now=now) is None
    assert not Offer.objects.filter(case=second).exists()


def test_ending_wrap_up_resolves_and_the_agent_pulls_the_next_case(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap
    resolve_case(case_id=first.pk, agent=ana, now=now)

    with django_capture_on_commit_callbacks(execute=True):
        end_wrap_up(case_id=first.pk, agent=ana, now=now + timedelta(seconds=20))

    first.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED and first.wrap_up_until is None
    assert first.events.get(kind=CaseEvent.Kind.RESOLVED).data == {"wrap_up_ended": True}
    assert _offered(second).agent == ana
    with pytest.raises(NotAllowed):
        end_wrap_up(case_id=first.pk, agent=ana, now=now + timedelta(seconds=21))


def test_someone_else_cannot_end_the_wrap_up(wrap, now):
    ana, first, _ = wrap
    ben = factories.agent("ben")
    resolve_case(case_id=first.pk, agent=ana, now=now)

    with pytest.raises(NotAllowed, match="not yours"):
        end_wrap_up(case_id=first.pk, agent=ben, now=now)

    first.refresh_from_db()
    assert first.status == CaseStatus.WRAP_UP


def test_wrap_up_ends_when_its_time_limit_passes(wrap, now, django_capture_on_commit_callbacks):
    ana, first, second = wrap
    resolve_case(case_id=first.pk, agent=ana, now=now)
    assert end_due_wrap_ups(now=now + timedelta(seconds=59)) == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert end_due_wrap_ups(now=now + timedelta(seconds=61)) == 1

    first.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED
    assert _offered(second).agent == ana
    ana.refresh_from_db()
    assert ana.idle_since == now + timedelta(seconds=61)  # held nothing from then (an offer is not held)
    assert end_due_wrap_ups(now=now + timedelta(seconds=120)) == 0
