"""The facts of one hour, computed from the operational tables.

``facts_for(start, end)`` returns ``{(dimension, key, team_id): {metric:
value}}``: every figure of docs/reports.md for what happened in
``[start, end)``. Each thing that happened is counted once, in the hour it
happened (a resolution in the hour of the resolution, an answered survey in
the hour of the answer), under the case's queue, the queue's team, the
agent it concerns, the case's channel kind and the customer's tier. The
measures live in ``reports.measures`` (cases and messages) and
``reports.agent_measures`` (offers, presence, occupancy, surveys).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from reports.models import Dimension

FactKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class CaseContext:
    case_id: int
    queue_id: int | None
    team_id: int
    channel_kind: str
    tier: str
    calendar_id: int | None


class Facts:
    """Sums per (dimension, key, team)."""

    def __init__(self) -> None:
        self.rows: dict[FactKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(self, ctx: CaseContext, agent_id: int | None = None, **metrics: float) -> None:
        """Count ``metrics`` for a case under every dimension it belongs to."""
        keys = [
            (Dimension.ALL, ""),
            (Dimension.CHANNEL_KIND, ctx.channel_kind),
            (Dimension.TIER, ctx.tier),
        ]
        if ctx.queue_id is not None:
            keys.append((Dimension.QUEUE, str(ctx.queue_id)))
        if agent_id is not None:
            keys.append((Dimension.AGENT, str(agent_id)))
        for dimension, key in keys:
            self.put(dimension, key, ctx.team_id, **metrics)

    def put(self, dimension: str, key: str, team_id: int, **metrics: float) -> None:
        row = self.rows[(str(dimension), key, team_id)]
        for name, value in metrics.items():
            row[name] += value


def contexts(case_ids) -> dict[int, CaseContext]:
    """What a fact needs to know about its cases, in two queries."""
    from cases.models import Case
    from sla.models import Clock

    ids = list(set(case_ids))
    if not ids:
        return {}
    calendars: dict[int, int | None] = {}
    clocks = Clock.objects.filter(case_id__in=ids).order_by("case_id", "started_at", "pk")
    for case_id, snapshot in clocks.values_list("case_id", "revision__snapshot"):
        calendars.setdefault(case_id, (snapshot or {}).get("calendar_id"))
    rows = Case.objects.filter(pk__in=ids).values_list(
        "id", "queue_id", "queue__team_id", "channel_kind", "customer__tier"
    )
    return {
        pk: CaseContext(pk, queue_id, team_id or 0, kind, tier, calendars.get(pk))
        for pk, queue_id, team_id, kind, tier in rows
    }


def facts_for(start: datetime, end: datetime) -> dict[FactKey, dict[str, float]]:
    from reports import agent_measures, measures

    facts = Facts()
    measures.add_case_facts(facts, start, end)
    agent_measures.add_agent_facts(facts, start, end)
    return {key: dict(values) for key, values in facts.rows.items() if any(values.values())}
