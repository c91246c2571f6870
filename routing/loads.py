"""Agents' loads: the units each agent holds per channel kind (held cases
plus pending offers), kept on the agents' rows on PostgreSQL (triggers, see
routing migration 0007) or summed from cases and offers elsewhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, IntegerField, JSONField, Sum
from django.db.models.expressions import RawSQL

from agents.models import Agent
from cases.models import HELD_STATUSES, Case
from routing.models import Offer


def agent_loads(agent_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Units each agent holds per channel kind: cases it is assigned (also
    while waiting on the customer and in wrap-up) plus offers it has pending."""
    return _work(list(agent_ids))[0]


def _work(ids: list[int] | None) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """Loads in units per agent and channel kind, and open items per agent
    (held cases plus pending offers), in two grouped queries. ``None``: every
    agent that holds anything."""
    loads: dict[int, dict[str, int]] = defaultdict(dict)
    counts: dict[int, int] = defaultdict(int)
    if ids is not None and not ids:
        return loads, counts
    held = Case.objects.filter(status__in=HELD_STATUSES, assignee__isnull=False)
    offered = Offer.objects.filter(status=Offer.Status.PENDING)
    if ids is not None:
        held = held.filter(assignee_id__in=ids)
        offered = offered.filter(agent_id__in=ids)
    rows = list(
        held.values_list("assignee_id", "channel_kind").annotate(units=Sum("units"), n=Count("id")).order_by()
    ) + list(offered.values_list("agent_id", "channel_kind").annotate(units=Sum("units"), n=Count("id")).order_by())
    for agent_id, kind, units, n in rows:
        load = loads[agent_id]
        load[kind] = load.get(kind, 0) + units
        counts[agent_id] += n
    return loads, counts


def counted_loads() -> bool:
    """Whether agents' loads are kept on their rows (PostgreSQL: the columns
    ``load_units`` and ``load_items``, kept by triggers; see routing
    migration 0007) rather than summed from their cases and offers."""
    from django.db import connection

    return connection.vendor == "postgresql"


def with_kept_loads(qs):
    """``qs`` of agents with their kept loads as ``kept_units`` and ``kept_items``."""
    table = Agent._meta.db_table  # the columns are not model fields (see counted_loads)
    return qs.annotate(
        kept_units=RawSQL(f"{table}.load_units", [], output_field=JSONField()),  # noqa: S611 (no input)
        kept_items=RawSQL(f"{table}.load_items", [], output_field=IntegerField()),  # noqa: S611 (no input)
    )


def load_drift() -> dict[int, dict]:
    """Agents whose kept loads differ from the sums of their held cases and
    pending offers: id -> {"kept": (units, items), "summed": (units, items)}.
    Empty where loads are summed anyway (SQLite)."""
    if not counted_loads():
        return {}
    loads, counts = _work(None)
    drift = {}
    for pk, units, items in with_kept_loads(Agent.objects.all()).values_list("pk", "kept_units", "kept_items"):
        summed = ({k: v for k, v in loads.get(pk, {}).items() if v}, counts.get(pk, 0))
        if (units, items) != summed:
            drift[pk] = {"kept": (units, items), "summed": summed}
    return drift


def recount_loads() -> int:
    """Set every agent's kept loads from the sums; returns how many were
    wrong. Nothing to do where loads are summed (SQLite)."""
    from django.db import connection

    if not counted_loads():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT routing_recount_loads()")
        return cursor.fetchone()[0]
