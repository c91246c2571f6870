"""Why a case went to an agent, kept and told.

The router notes its reasoning while it decides (``routing.core.explain``);
this module keeps it with each offer (``Explanation``, one insert per batch),
purges it after ``SWITCHBOARD_EXPLANATION_DAYS``, and tells it: the recorded
reasoning of each offer of a case, with names, and for a case still waiting
the same reasoning worked out now ("why is nobody taking it?")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings as django_settings

from agents.models import Agent, Role
from agents.selectors import role_of
from cases.models import Case, CaseStatus
from routing import bulk, core
from routing.agent_states import agent_states
from routing.demands import case_demands
from routing.models import Explanation, Offer
from routing.queue_settings import closed_queue_ids, routing_settings

REASONS = {
    "status": "status does not take this channel",
    "capacity": "no room",
    "skill": "lacks a required skill",
    "proficiency": "below the required proficiency",
    "membership": "does not serve the queue",
    "declined": "declined or let this case's offer time out",
    "fair_cap": "had their share of assignments",
}
RULES = {
    "most_available": "most free capacity on the channel",
    "least_active": "fewest open cases",
    "longest_idle": "idle the longest",
}
HIDDEN = "an agent outside your teams"
DECIDED_BY = {
    "continuity": "served this customer recently (continuity)",
    "selection": "the queue's rule alone",
    "proficiency": "a tie on the queue's rule, broken by proficiency",
    "idle": "a tie on the queue's rule and proficiency, broken by idle time",
    "id": "a full tie, broken by the lowest agent id",
}


def _days() -> int:
    return django_settings.SWITCHBOARD["EXPLANATION_DAYS"]


def notes() -> dict[int, core.Why] | None:
    """Where a batch notes its reasoning, or None when none is kept."""
    return {} if _days() > 0 else None


def record(
    offers: Iterable[Offer], notes: dict[int, core.Why], now: datetime, *, pulled_by: int | None, offer_ids: dict
) -> None:
    """Keep each offer's reasoning (one insert for the batch; ``offer_ids``:
    case id -> the new offer's id). The final decision is made again on the
    chosen agents' fresh state: where it went to someone else than planned,
    the explanation says so."""
    bulk.insert(
        Explanation,
        ("offer_id", "created_at", "text"),
        [
            (offer_ids[case_id], now, Explanation.encode(data))
            for case_id, data in rows(offers, notes, pulled_by=pulled_by)
        ],
    )


def rows(offers: Iterable[Offer], notes: dict[int, core.Why], *, pulled_by: int | None) -> list[tuple[int, dict]]:
    """(case id, explanation data) of each offer whose reasoning was noted."""
    out = []
    for offer in offers:
        why = notes.get(offer.case_id)
        if why is None:
            continue
        data = why.data()
        data["agent"] = offer.agent_id
        planned = data["ranked"][0]["agent"] if data["ranked"] else None
        if planned != offer.agent_id:
            data["replanned"] = True  # the planned agent was busy or full when locked
        if pulled_by is not None:
            data["pulled_by"] = pulled_by  # the agent gained room and pulled the case
        out.append((offer.case_id, data))
    return out


def purge(now: datetime, *, limit: int = 10_000) -> int:
    """Drop explanations older than the kept days; a bounded batch per call."""
    days = _days()
    cutoff = now - timedelta(days=max(days, 0))
    ids = list(Explanation.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    return Explanation.objects.filter(pk__in=ids).delete()[0]


_last_purge: list[datetime] = []


def purge_now_and_then(now: datetime, *, every: timedelta = timedelta(minutes=10)) -> int:
    """``purge`` at most every ``every`` in this process (the tick runs
    every second)."""
    if _last_purge and now - _last_purge[0] < every:
        return 0
    _last_purge[:] = [now]
    return purge(now)


def for_case(case: Case, now: datetime, *, user) -> dict:
    """Every recorded offer of the case with its reasoning, newest first,
    and, while the case waits, the reasoning worked out now. Agents the
    user may not see (another team's, for a supervisor) are told without
    id or name."""
    offers = list(Offer.objects.filter(case=case).select_related("explanation").order_by("-created_at", "-pk")[:50])
    datas = [getattr(o, "explanation", None) for o in offers]
    live = _live(case, now) if case.status == CaseStatus.QUEUED else None
    names = _names(user, [o.agent_id for o in offers], [d.data for d in datas if d], [live] if live else [])
    return {
        "case": case.pk,
        "kept_days": _days(),
        "offers": [
            {
                "offer": offer.pk,
                "agent": offer.agent_id if offer.agent_id in names else None,
                "agent_name": names.get(offer.agent_id, HIDDEN),
                "status": offer.status,
                "created_at": offer.created_at,
                "decline_reason": offer.decline_reason,
                "explanation": _told(kept.data, names) if kept else None,
            }
            for offer, kept in zip(offers, datas, strict=True)
        ],
        "waiting": _told(live, names) if live else None,
    }


def _live(case: Case, now: datetime) -> dict:
    """The reasoning for a waiting case on every routable agent's state now
    (nothing is locked or written)."""
    settings = routing_settings()
    demand = case_demands([case], now, settings=settings)[0]
    pool = core.AgentPool(agent_states(now, settings=settings))
    why = core.Why()
    decision = pool.choose(demand, why)
    data = why.data()
    data["agent"] = decision.agent_id if decision else None
    if case.queue_id in closed_queue_ids(now):
        data["queue_closed"] = True
    return data


def _names(user, *groups, everyone: bool = False) -> dict[int, str]:
    """Display names of the agents mentioned that ``user`` may see."""
    ids: set[int] = set(groups[0])
    for datas in groups[1:]:
        for data in datas:
            ids.update(r["agent"] for r in data["ranked"])
            for listed in data["excluded"].values():
                ids.update(listed)
            if data.get("agent"):
                ids.add(data["agent"])
    agents = Agent.objects.filter(pk__in=ids)
    role = Role.ADMIN if everyone else role_of(user)
    if role == Role.SUPERVISOR:
        agents = agents.filter(teams__in=user.supervised_teams.all()).distinct()
    elif role != Role.ADMIN:
        return {}
    return dict(agents.values_list("pk", "display_name"))


def _told(data: dict, names: dict[int, str]) -> dict:
    """The kept data with names, and the same as sentences."""

    def seen(agent_id: int | None) -> int | None:
        return agent_id if agent_id in names else None

    ranked = [{**r, "agent": seen(r["agent"]), "name": names.get(r["agent"], HIDDEN)} for r in data["ranked"]]
    excluded = {
        reason: [{"agent": seen(a), "name": names.get(a, HIDDEN)} for a in ids]
        for reason, ids in data["excluded"].items()
    }
    told = {**data, "ranked": ranked, "excluded": excluded, "summary": summary(data, names)}
    for key in ("agent", "pulled_by"):
        if told.get(key) is not None:
            told[key] = seen(told[key])
    return told


def lines(data: dict) -> list[str]:
    """The reasoning as sentences with every agent named (for admins)."""
    return summary(data, _names(None, [], [data], everyone=True))


def summary(data: dict, names: dict[int, str]) -> list[str]:
    """The reasoning in a few plain sentences."""

    def name(agent_id: int) -> str:
        return names.get(agent_id, HIDDEN)

    lines = [f"{data['considered']} agents were signed in with a status that routes."]
    for test, removed in data["steps"]:
        kind, _, detail = test.partition(":")
        if kind == "skill" and ">=" in detail:
            skill, _, minimum = detail.partition(">=")
            lines.append(f"{removed} excluded: without {skill} at proficiency {minimum} or above.")
        else:
            lines.append(f"{removed} excluded: {REASONS.get(kind, kind)}.")
    lines.append(f"{data['eligible']} eligible.")
    for reason, ids in data["excluded"].items():
        who = ", ".join(name(a) for a in ids)
        lines.append(f"Not offered ({REASONS.get(reason, reason)}): {who}.")
    agent = data.get("agent")
    if data.get("queue_closed"):
        lines.append("The queue is closed now (outside its opening hours): nothing is offered.")
    if data.get("pulled_by"):
        lines.append(f"{name(cast(int, agent))} gained room and pulled this case, the most urgent one they may take.")
    elif agent:
        rule = RULES.get(data["rule"], data["rule"])
        decided = DECIDED_BY.get(data["decided_by"], data["decided_by"])
        lines.append(f"Chosen: {name(agent)}, by {rule}; decided by {decided}.")
    else:
        lines.append("Nobody may take it now.")
    ties = data.get("ties") or {}
    if ties.get("rule", 0) > 1:
        level = {"rule": "the queue's rule", "proficiency": "proficiency", "idle": "idle time"}
        lines.append("Still level: " + ", ".join(f"{n} on {level[k]}" for k, n in ties.items() if k in level) + ".")
    if data.get("replanned"):
        lines.append("The first choice was busy or full when locked; the case went to the next best.")
    return lines
