"""Agent and customer figures of one hour: offers by outcome, time per
presence status and time available (for occupancy), and satisfaction
surveys (docs/reports.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.apps import apps
from django.db.models import Q

from reports.facts import Facts, contexts
from reports.models import Dimension, StatusSpan


def add_agent_facts(facts: Facts, start: datetime, end: datetime) -> None:
    _offers(facts, start, end)
    _statuses(facts, start, end)
    _surveys(facts, start, end)


def _offers(facts: Facts, start: datetime, end: datetime) -> None:
    """Offers made in the hour; accepted, declined and missed (timed out) in
    the hour the agent answered or the offer expired. A cancelled offer (the
    case moved on) counts as made only."""
    from routing.models import Offer

    made = Offer.objects.filter(created_at__gte=start, created_at__lt=end).values_list("case_id", "agent_id")
    outcome = {
        Offer.Status.ACCEPTED: "offers_accepted",
        Offer.Status.DECLINED: "offers_declined",
        Offer.Status.TIMED_OUT: "offers_missed",
    }
    closed = Offer.objects.filter(status__in=list(outcome), responded_at__gte=start, responded_at__lt=end).values_list(
        "case_id", "agent_id", "status"
    )
    made, closed = list(made), list(closed)
    ctx = contexts({r[0] for r in made} | {r[0] for r in closed})
    for case_id, agent_id in made:
        facts.add(ctx[case_id], agent_id, offers=1)
    for case_id, agent_id, status in closed:
        facts.add(ctx[case_id], agent_id, **{outcome[status]: 1})


def _statuses(facts: Facts, start: datetime, end: datetime) -> None:
    """Seconds each agent spent in each presence status within the hour,
    from the presence log; available seconds are those in a status that
    takes work on some channel (occupancy = busy ÷ available)."""
    spans = StatusSpan.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)
    per_status: dict[tuple[int, str], float] = defaultdict(float)
    for agent_id, name, routable, since, until in spans.values_list(
        "agent_id", "status_name", "routable", "started_at", "ended_at"
    ):
        seconds = (min(until or end, end) - max(since, start)).total_seconds()
        if seconds <= 0:
            continue
        per_status[(agent_id, name)] += seconds
        if routable:
            facts.put(Dimension.AGENT, str(agent_id), 0, available_seconds=seconds)
    for (agent_id, name), seconds in per_status.items():
        facts.put(Dimension.AGENT_STATUS, f"{agent_id}:{name}", 0, status_seconds=seconds)


def _surveys(facts: Facts, start: datetime, end: datetime) -> None:
    """Surveys sent in the hour, and answered in the hour of the answer
    (score 1–5), under the survey's agent and queue (not the case's current
    ones: a re-opened case may have moved on)."""
    if not apps.is_installed("surveys"):
        return
    from surveys.models import Survey

    sent = list(
        Survey.objects.filter(sent_at__gte=start, sent_at__lt=end).values_list("case_id", "agent_id", "queue_id")
    )
    answered = list(
        Survey.objects.filter(answered_at__gte=start, answered_at__lt=end, score__isnull=False).values_list(
            "case_id", "agent_id", "queue_id", "score"
        )
    )
    ctx = contexts({r[0] for r in sent} | {r[0] for r in answered})
    teams = _teams({r[2] for r in sent} | {r[2] for r in answered})
    for case_id, agent_id, queue_id, *score in [*sent, *answered]:
        c = ctx[case_id]
        c = type(c)(c.case_id, queue_id, teams.get(queue_id, 0), c.channel_kind, c.tier, c.calendar_id)
        if score:
            facts.add(c, agent_id, surveys_answered=1, score_sum=score[0], **{f"score_{score[0]}": 1})
        else:
            facts.add(c, agent_id, surveys_sent=1)


def _teams(queue_ids) -> dict[int, int]:
    from routing.models import Queue

    rows = Queue.objects.filter(pk__in=[q for q in queue_ids if q is not None]).values_list("pk", "team_id")
    return {pk: team_id or 0 for pk, team_id in rows}
