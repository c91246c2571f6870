"""Summed facts → the figures people read (docs/reports.md):
averages are a sum over its count, rates a count over its base; a figure
with nothing to count is None (shown empty), never 0."""

from __future__ import annotations

# (column, title) of every figure, in the order tables and CSV show them.
COLUMNS = (
    ("cases_created", "Cases created"),
    ("reopened", "Re-opened"),
    ("first_response_count", "First responses"),
    ("first_response_avg_s", "First response avg (s)"),
    ("first_response_business_avg_s", "First response avg, business hours (s)"),
    ("next_response_count", "Next responses"),
    ("next_response_avg_s", "Next response avg (s)"),
    ("next_response_business_avg_s", "Next response avg, business hours (s)"),
    ("resolution_count", "Resolutions"),
    ("resolution_avg_s", "Resolution avg (s)"),
    ("resolution_business_avg_s", "Resolution avg, business hours (s)"),
    ("handle_count", "Handled"),
    ("handle_avg_s", "Handle time avg (s)"),
    ("sla_met", "SLA met"),
    ("sla_breached", "SLA breached"),
    ("sla_attainment_pct", "SLA attainment %"),
    ("abandoned", "Abandoned"),
    ("transfers", "Transfers"),
    ("offers", "Offers"),
    ("offers_accepted", "Accepted"),
    ("offers_declined", "Declined"),
    ("offers_missed", "Missed offers"),
    ("busy_s", "Busy (s)"),
    ("available_s", "Available (s)"),
    ("occupancy_pct", "Occupancy %"),
    ("status_s", "Time in status (s)"),
    ("surveys_sent", "Surveys sent"),
    ("surveys_answered", "Surveys answered"),
    ("survey_response_pct", "Survey response %"),
    ("satisfaction_avg", "Satisfaction avg (1–5)"),
    ("score_1", "Score 1"),
    ("score_2", "Score 2"),
    ("score_3", "Score 3"),
    ("score_4", "Score 4"),
    ("score_5", "Score 5"),
    ("social_reaction_count", "Social posts answered"),
    ("social_reaction_avg_s", "Social reaction avg (s)"),
)
COUNTS = (
    "cases_created",
    "reopened",
    "first_response_count",
    "next_response_count",
    "resolution_count",
    "handle_count",
    "sla_met",
    "sla_breached",
    "abandoned",
    "transfers",
    "offers",
    "offers_accepted",
    "offers_declined",
    "offers_missed",
    "surveys_sent",
    "surveys_answered",
    "score_1",
    "score_2",
    "score_3",
    "score_4",
    "score_5",
    "social_reaction_count",
)


def _ratio(part: float, whole: float, scale: float = 1.0, digits: int = 1) -> float | None:
    return round(part * scale / whole, digits) if whole else None


def figures(s: dict) -> dict:
    g = lambda name: s.get(name, 0) or 0  # noqa: E731
    out = {name: int(round(g(name))) for name in COUNTS}
    out |= {
        "first_response_avg_s": _ratio(g("first_response_seconds"), g("first_response_count")),
        "first_response_business_avg_s": _ratio(g("first_response_business_seconds"), g("first_response_count")),
        "next_response_avg_s": _ratio(g("next_response_seconds"), g("next_response_count")),
        "next_response_business_avg_s": _ratio(g("next_response_business_seconds"), g("next_response_count")),
        "resolution_avg_s": _ratio(g("resolution_seconds"), g("resolution_count")),
        "resolution_business_avg_s": _ratio(g("resolution_business_seconds"), g("resolution_count")),
        "handle_avg_s": _ratio(g("handle_seconds"), g("handle_count")),
        "sla_attainment_pct": _ratio(g("sla_met"), g("sla_met") + g("sla_breached"), 100),
        "busy_s": round(g("busy_seconds"), 1),
        "available_s": round(g("available_seconds"), 1),
        "occupancy_pct": _ratio(g("busy_seconds"), g("available_seconds"), 100),
        "status_s": round(g("status_seconds"), 1),
        "survey_response_pct": _ratio(g("surveys_answered"), g("surveys_sent"), 100),
        "satisfaction_avg": _ratio(g("score_sum"), g("surveys_answered"), 1, 2),
        "social_reaction_avg_s": _ratio(g("social_reaction_seconds"), g("social_reaction_count")),
    }
    return out


def row(key, label: str, sums: dict) -> dict:
    return {"key": str(key), "label": label, **figures(sums)}


def _labels(grouping: str, keys) -> dict:
    from agents.models import Agent, Team
    from routing.models import Queue
    from sla.models import SlaPolicy

    ids = lambda: [int(k) for k in keys if str(k).isdigit()]  # noqa: E731
    if grouping == "queue":
        return {str(pk): name for pk, name in Queue.objects.filter(pk__in=ids()).values_list("pk", "name")}
    if grouping == "team":
        names = {str(pk): name for pk, name in Team.objects.filter(pk__in=ids()).values_list("pk", "name")}
        return {"0": "No team", **names}
    if grouping == "agent":
        return {str(pk): n for pk, n in Agent.objects.filter(pk__in=ids()).values_list("pk", "display_name")}
    if grouping == "agent_status":
        agent_ids = [int(k.split(":")[0]) for k in keys]
        names = dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "display_name"))
        return {k: f"{names.get(int(k.split(':')[0]), k)} · {k.split(':', 1)[1] or 'no status'}" for k in keys}
    if grouping == "sla":
        policy_ids = [int(k.split(":")[0]) for k in keys if k.split(":")[0].isdigit()]
        names = dict(SlaPolicy.objects.filter(pk__in=policy_ids).values_list("pk", "name"))
        return {
            k: f"{names.get(int(p) if p.isdigit() else p, 'deleted policy')} · {t}"
            for k in keys
            for p, t in [k.split(":")]
        }
    if grouping == "hour":
        return {k: f"{int(k):02d}:00" for k in keys}
    return {k: str(k) for k in keys}


def rows(grouping: str, groups: dict) -> list[dict]:
    keys = [str(k) for k in groups]
    labels = _labels(grouping, keys)
    out = [row(k, labels.get(str(k), str(k)), v) for k, v in groups.items()]
    if grouping == "hour":
        return sorted(out, key=lambda r: int(r["key"]))
    if grouping == "day":
        return sorted(out, key=lambda r: r["key"])
    return sorted(out, key=lambda r: r["label"].lower())
