"""Overflow steps widen who may take a waiting case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.models import AgentSkill, Team
from cases.models import CaseEvent, CaseSkill, CaseStatus
from routing.batch import route_case
from routing.models import Offer, OverflowStep
from routing.overflow import apply_overflow
from tests import factories

pytestmark = pytest.mark.django_db


def _offered(case) -> Offer:
    return Offer.objects.get(case=case, status=Offer.Status.PENDING)


# --- Overflow -------------------------------------------------------------------------------------


def _overflow_events(case) -> list[dict]:
    return [e.data for e in case.events.filter(kind=CaseEvent.Kind.OVERFLOW).order_by("pk")]


def test_lower_proficiency_relaxes_optional_skills_after_the_threshold(now):
    queue = factories.queue("Billing")
    chan = factories.channel("b", default_queue=queue)
    OverflowStep.objects.create(queue=queue, after_seconds=60, action="lower_proficiency", amount=1)
    ana = factories.agent("ana", skills={"billing": 3, "lang-es": 2})
    case = factories.queued_case(
        chan, skills={"billing": 4, "lang-es": 3}, optional=("billing",), at=now - timedelta(seconds=90)
    )
    fresh = factories.queued_case(chan, skills={"billing": 4}, optional=("billing",), at=now - timedelta(seconds=30))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow_level == 1
    assert dict(CaseSkill.objects.filter(case=case).values_list("skill__name", "min_proficiency")) == {
        "billing": 3,
        "lang-es": 3,  # not optional: kept
    }
    assert _overflow_events(case) == [
        {"step": 1, "action": "lower_proficiency", "after_seconds": 60, "lowered": ["billing 4→3"]}
    ]
    fresh.refresh_from_db()
    assert fresh.overflow_level == 0 and not _overflow_events(fresh)
    assert CaseSkill.objects.get(case=fresh).min_proficiency == 4
    # lang-es 3 is still required and Ana has 2
    assert route_case(case_id=case.pk, now=now) is None
    skill = AgentSkill.objects.get(agent=ana, skill__name="lang-es")
    skill.proficiency = 3
    skill.save()  # as the admin and the API save it: the router sees it at once
    assert route_case(case_id=case.pk, now=now).agent == ana


def test_drop_optional_skills_keeps_the_required_ones(now):
    queue = factories.queue("Billing")
    chan = factories.channel("b", default_queue=queue)
    OverflowStep.objects.create(queue=queue, after_seconds=60, action="drop_optional_skills")
    factories.agent("biller", skills={"billing": 5})  # lacks lang-es: still not eligible
    speaker = factories.agent("speaker", skills={"lang-es": 1})
    case = factories.queued_case(
        chan, skills={"billing": 3, "lang-es": 1}, optional=("billing",), at=now - timedelta(seconds=61)
    )
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    assert list(CaseSkill.objects.filter(case=case).values_list("skill__name", flat=True)) == ["lang-es"]
    assert _overflow_events(case) == [
        {"step": 1, "action": "drop_optional_skills", "after_seconds": 60, "dropped": ["billing"]}
    ]
    assert route_case(case_id=case.pk, now=now).agent == speaker


def test_add_queue_lets_the_other_queues_members_take_it(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    other_team = Team.objects.create(name="Other team")
    other = factories.queue("Other", team=other_team)
    direct = factories.queue("Direct")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_queue", target_queue=other)
    factories.agent("outsider", capacity={"api": 9})
    member = factories.agent("member", teams=[other_team])
    direct.agents.add(factories.agent("direct", capacity={"api": 8}))
    case = factories.queued_case(chan, at=now - timedelta(seconds=120))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"queues": [other.pk]}
    assert _overflow_events(case) == [{"step": 1, "action": "add_queue", "after_seconds": 60, "queue": "Other"}]
    assert route_case(case_id=case.pk, now=now).agent == member


def test_add_queue_reaches_direct_members_of_the_other_queue(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    other = factories.queue("Other")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_queue", target_queue=other)
    factories.agent("outsider", capacity={"api": 9})
    member = factories.agent("member")
    other.agents.add(member)
    case = factories.queued_case(chan, at=now - timedelta(seconds=120))
    assert route_case(case_id=case.pk, now=now) is None

    apply_overflow(now=now)

    assert route_case(case_id=case.pk, now=now).agent == member


def test_add_team_lets_that_team_take_it(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    helpers = Team.objects.create(name="Helpers")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="add_team", target_team=helpers)
    factories.agent("outsider", capacity={"api": 9})
    helper = factories.agent("helper", teams=[helpers])
    case = factories.queued_case(chan, at=now - timedelta(seconds=60))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"teams": [helpers.pk]}
    assert _overflow_events(case) == [{"step": 1, "action": "add_team", "after_seconds": 60, "team": "Helpers"}]
    assert route_case(case_id=case.pk, now=now).agent == helper


def test_anyone_opens_the_case_to_every_agent(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="anyone")
    outsider = factories.agent("outsider")
    case = factories.queued_case(chan, at=now - timedelta(seconds=60))
    assert route_case(case_id=case.pk, now=now) is None

    assert apply_overflow(now=now) == 1

    case.refresh_from_db()
    assert case.overflow == {"anyone": True}
    assert route_case(case_id=case.pk, now=now).agent == outsider


def test_overflow_steps_are_taken_once_each_in_order(now):
    home = factories.queue("Home", team=Team.objects.create(name="Home team"))
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=300, action="anyone")
    OverflowStep.objects.create(queue=home, after_seconds=60, action="lower_proficiency", amount=2)
    OverflowStep.objects.create(queue=home, after_seconds=120, action="drop_optional_skills")
    start = now - timedelta(seconds=90)
    case = factories.queued_case(chan, skills={"billing": 5}, optional=("billing",), at=start)

    assert apply_overflow(now=now) == 1
    assert apply_overflow(now=now) == 0  # the first step is not taken twice
    case.refresh_from_db()
    assert case.overflow_level == 1 and CaseSkill.objects.get(case=case).min_proficiency == 3

    assert apply_overflow(now=start + timedelta(seconds=400)) == 2  # both remaining, in order
    assert apply_overflow(now=start + timedelta(seconds=500)) == 0

    case.refresh_from_db()
    assert case.overflow_level == 3 and case.overflow == {"anyone": True}
    assert not CaseSkill.objects.filter(case=case).exists()
    assert [(e["step"], e["action"]) for e in _overflow_events(case)] == [
        (1, "lower_proficiency"),
        (2, "drop_optional_skills"),
        (3, "anyone"),
    ]


def test_overflow_does_not_touch_cases_that_are_not_waiting(now):
    home = factories.queue("Home")
    chan = factories.channel("h", default_queue=home)
    OverflowStep.objects.create(queue=home, after_seconds=60, action="anyone")
    ana = factories.agent("ana")
    case = factories.queued_case(chan, at=now - timedelta(seconds=600))
    route_case(case_id=case.pk, now=now)  # offered

    assert apply_overflow(now=now) == 0

    case.refresh_from_db()
    assert case.overflow_level == 0 and case.status == CaseStatus.OFFERED
    assert _offered(case).agent == ana
