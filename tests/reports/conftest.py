"""A known history, written row by row with fixed times (the reports read
stored timestamps; nothing here depends on the clock), and the helpers that
write it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from agents.models import Team
from calls.models import CallSession
from cases.models import Case, CaseEvent, Customer, Message
from reports.models import StatusSpan
from routing.models import Offer
from sla import services as sla_services
from sla.calendars import clear_cache
from sla.models import BusinessCalendar, Clock, OpeningHours, SlaPolicy
from surveys.models import Survey
from tests import factories

K = CaseEvent.Kind
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """Day 0 is Monday 2 November 2026 (UTC)."""
    return MONDAY + timedelta(days=day, hours=hh, minutes=mm)


def case(channel, *, created: datetime, tier: str = "standard", queue=None, **fields) -> Case:
    customer = Customer.objects.create(display_name="C", tier=tier)
    fields.setdefault("status", "resolved")
    return Case.objects.create(
        customer=customer,
        channel=channel,
        channel_kind=channel.kind,
        queue=queue or channel.default_queue,
        created_at=created,
        **fields,
    )


def event(case: Case, kind: str, when: datetime, agent=None, **data) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, agent=agent, data=data, created_at=when)


def message(case: Case, direction: str, when: datetime, agent=None) -> Message:
    if direction == "out" and case.first_response_at is None:
        Case.objects.filter(pk=case.pk).update(first_response_at=when)
        case.first_response_at = when
    return Message.objects.create(
        case=case, direction=direction, channel_kind=case.channel_kind, author_agent=agent, created_at=when
    )


def offer(case: Case, agent, made: datetime, status: str, answered: datetime | None) -> Offer:
    return Offer.objects.create(
        case=case,
        agent=agent,
        channel_kind=case.channel_kind,
        status=status,
        created_at=made,
        expires_at=made + timedelta(minutes=1),
        responded_at=answered,
    )


@dataclass
class History:
    team: Team
    other_team: Team
    queue: object
    other_queue: object
    ana: object  # agent of team
    ben: object  # agent of team
    zoe: object  # agent of other_team
    email: object
    chat: object
    policy: SlaPolicy
    cases: dict


def _office_policy(now: datetime) -> tuple[SlaPolicy, object]:
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="UTC")
    for weekday in range(5):
        OpeningHours.objects.create(calendar=calendar, weekday=weekday, opens=time(9), closes=time(17))
    clear_cache()
    policy = SlaPolicy.objects.create(name="Office hours", calendar=calendar, first_response_minutes=60)
    return policy, sla_services.record_revision(policy=policy, now=now)


def clock(case: Case, revision, target: str, status: str, when: datetime) -> Clock:
    return Clock.objects.create(
        case=case,
        policy=revision.policy,
        revision=revision,
        target=target,
        status=status,
        target_seconds=3600,
        warning_seconds=2880,
        started_at=case.created_at,
        stopped_at=when if status == "met" else None,
        breached_at=when if status == "breached" else None,
    )


@pytest.fixture
def history(db) -> History:
    team, other_team = Team.objects.create(name="Care"), Team.objects.create(name="Sales")
    queue = factories.queue("Support", team=team)
    other_queue = factories.queue("Deals", team=other_team)
    ana, ben = factories.agent("ana", teams=[team]), factories.agent("ben", teams=[team])
    zoe = factories.agent("zoe", teams=[other_team])
    email = factories.channel("mail", kind="email", default_queue=queue)
    chat = factories.channel("chat", kind="web_chat", default_queue=queue)
    deals = factories.channel("deals", kind="email", default_queue=other_queue)
    policy, revision = _office_policy(at(0, 0))
    cases = {}

    # 1. Email, Monday: answered in 20 min, answered again in 15, resolved
    # after 70 min; offered to Ben (declined, then missed), taken by Ana.
    c1 = cases["simple"] = case(email, created=at(0, 10), assignee=ana, resolved_at=at(0, 11, 10))
    message(c1, "in", at(0, 10))
    offer(c1, ben, at(0, 10, 0), "declined", at(0, 10, 1))
    offer(c1, ben, at(0, 10, 2), "timed_out", at(0, 10, 3))
    offer(c1, ana, at(0, 10, 4), "accepted", at(0, 10, 5))
    event(c1, K.ASSIGNED, at(0, 10, 5), ana)
    message(c1, "out", at(0, 10, 20), ana)
    message(c1, "in", at(0, 10, 30))
    message(c1, "in", at(0, 10, 32))
    message(c1, "out", at(0, 10, 35))  # automatic (no agent): not a response
    message(c1, "out", at(0, 10, 45), ana)
    message(c1, "out", at(0, 10, 50), ana)  # nobody was waiting: no next response
    event(c1, K.RESOLVED, at(0, 11, 10), ana)

    # 2. VIP web chat across midnight: Ben answers after midnight, transfers
    # it, Ana resolves it; it is re-opened and resolved again.
    c2 = cases["midnight"] = case(chat, created=at(0, 23, 50), tier="vip", assignee=ana)
    message(c2, "in", at(0, 23, 50))
    event(c2, K.ASSIGNED, at(0, 23, 55), ben)
    message(c2, "out", at(1, 0, 10), ben)
    event(c2, K.TRANSFERRED, at(1, 0, 20), from_queue="Support", to_queue="Support")
    event(c2, K.ASSIGNED, at(1, 0, 30), ana)
    event(c2, K.RESOLVED, at(1, 0, 40), ana)
    event(c2, K.REOPENED, at(1, 1, 0))
    message(c2, "in", at(1, 1, 0))
    event(c2, K.ASSIGNED, at(1, 1, 5), ana)
    message(c2, "out", at(1, 1, 15), ana)
    event(c2, K.RESOLVED, at(1, 1, 35), ana)

    # 3. Under office hours (Mon–Fri 9–17): written Monday 16:50, answered
    # Tuesday 09:10 (wall 16 h 20 min, business 20 min); the target was met.
    c3 = cases["office"] = case(email, created=at(0, 16, 50), status="assigned", assignee=ana)
    message(c3, "in", at(0, 16, 50))
    event(c3, K.ASSIGNED, at(0, 16, 55), ana)
    message(c3, "out", at(1, 9, 10), ana)
    clock(c3, revision, "first_response", "met", at(1, 9, 10))

    # 4. A web chat resolved before anyone answered: abandoned.
    c4 = cases["abandoned"] = case(chat, created=at(0, 12), assignee=ben)
    message(c4, "in", at(0, 12))
    event(c4, K.ASSIGNED, at(0, 12, 10), ben)
    event(c4, K.RESOLVED, at(0, 12, 30), ben)

    # 5. Another team's case (a supervisor of Care must not see it), breached.
    c5 = cases["other"] = case(deals, created=at(0, 10, 30), assignee=zoe)
    message(c5, "in", at(0, 10, 30))
    event(c5, K.ASSIGNED, at(0, 10, 31), zoe)
    message(c5, "out", at(0, 10, 41), zoe)
    event(c5, K.RESOLVED, at(0, 10, 51), zoe)
    clock(c5, revision, "first_response", "breached", at(0, 10, 40))

    # 6. A public social post (posted 12:58) answered at 13:05.
    social = factories.channel("posts", kind="social", default_queue=queue)
    c6 = cases["social"] = case(social, created=at(0, 13), assignee=ana)
    message(c6, "in", at(0, 13))
    message(c6, "out", at(0, 13, 5), ana)
    event(c6, K.REPLY_SENT, at(0, 13, 5), ana, posted_at=at(0, 12, 58).isoformat(), reaction_seconds=420)

    # 7. A call nobody answered: abandoned.
    phone = factories.channel("phone", kind="voice", default_queue=queue)
    c7 = cases["missed_call"] = case(phone, created=at(0, 14), status="queued", route_rank=at(0, 14))
    CallSession.objects.create(
        channel=phone, call_id="CA1", case=c7, state="missed", started_at=at(0, 14), ended_at=at(0, 14, 1)
    )

    # Surveys: case 1's answered 4 after half an hour; case 4's never.
    Survey.objects.create(
        case=c1,
        customer=c1.customer,
        agent=ana,
        queue=queue,
        channel_kind="email",
        token="t1",
        resolved_at=at(0, 11, 10),
        sent_at=at(0, 11, 10),
        answered_at=at(0, 11, 40),
        score=4,
        answered_via="link",
    )
    Survey.objects.create(
        case=c4,
        customer=c4.customer,
        agent=ben,
        queue=queue,
        channel_kind="web_chat",
        token="t4",
        resolved_at=at(0, 12, 30),
        sent_at=at(0, 12, 30),
    )

    # Ana's presence: available 10:00–11:00, lunch 11:00–11:30, then available.
    StatusSpan.objects.create(
        agent=ana, status_name="Available", routable=True, started_at=at(0, 10), ended_at=at(0, 11)
    )
    StatusSpan.objects.create(agent=ana, status_name="Lunch", started_at=at(0, 11), ended_at=at(0, 11, 30))
    StatusSpan.objects.create(agent=ana, status_name="Available", routable=True, started_at=at(0, 11, 30))
    return History(team, other_team, queue, other_queue, ana, ben, zoe, email, chat, policy, cases)
