"""Configuration mistakes explained in words, for the admin and the API: a
routing rule that can never match (an error), a queue no agent can serve (a
warning: agents may be added later)."""

from __future__ import annotations

from django.db.models import Q

from agents.models import Agent, AgentCapacity, AgentSkill
from routing.models import Queue, RoutingRule


def rule_problems(
    *,
    match_channel_kinds: list | None,
    match_channel,
    match_customer_tier: str,
    order: int | None = None,
    is_active: bool = True,
    pk: int | None = None,
) -> list[str]:
    """Why a rule with these conditions can never match; empty: it can."""
    from cases.models import Customer

    problems = []
    kinds = match_channel_kinds or []
    if match_channel is not None and kinds and match_channel.kind not in kinds:
        problems.append(
            f"it can never match: channel {match_channel.key!r} is {match_channel.kind}, "
            f"not one of the channel kinds {', '.join(kinds)}"
        )
    if match_channel is not None and not match_channel.is_active:
        problems.append(f"it can never match: channel {match_channel.key!r} is inactive")
    if match_customer_tier and match_customer_tier not in Customer.Tier.values:
        problems.append(
            f"it can never match: no customer has tier {match_customer_tier!r} "
            f"(tiers: {', '.join(Customer.Tier.values)})"
        )
    if is_active and order is not None:
        catch_all = (
            RoutingRule.objects.filter(
                is_active=True,
                match_channel_kinds=[],
                match_channel__isnull=True,
                match_keywords="",
                match_language="",
                match_customer_tier="",
            )
            .filter(Q(order__lt=order) | (Q(order=order) & Q(pk__lt=pk or 2**62)))
            .exclude(pk=pk)  # type: ignore[misc]  # pk=None (a new rule): excludes nothing
            .first()
        )
        if catch_all is not None:
            problems.append(
                f"it can never match: rule {catch_all.name!r} (order {catch_all.order}) comes first "
                "and matches everything; give this rule a lower order"
            )
    return problems


def queue_warnings(queue: Queue) -> list[str]:
    """Why no agent can take this queue's cases now; empty: someone can."""
    if not queue.pk or not queue.is_active:
        return []
    agents = Agent.objects.filter(is_active=True)
    open_to_all = queue.team_id is None and not queue.agents.exists()
    if not open_to_all:
        agents = agents.filter(Q(teams=queue.team_id) | Q(queues=queue)).distinct()
    if not agents.exists():
        return [f"no agent can serve queue {queue.name!r}: it has no active members (team or agents)"]
    needed = [
        (n.skill_id, n.min_proficiency, n.skill.name)
        for n in queue.required_skills.select_related("skill")
        if not n.optional
    ]
    skilled = agents
    for skill_id, minimum, _ in needed:
        skilled = skilled.filter(
            pk__in=AgentSkill.objects.filter(skill_id=skill_id, proficiency__gte=minimum).values("agent_id")
        )
    if not skilled.exists():
        wanted = ", ".join(f"{name} >= {minimum}" for _, minimum, name in needed)
        return [f"no agent can serve queue {queue.name!r}: no member has the required skills ({wanted})"]
    capacity = AgentCapacity.objects.filter(agent__in=skilled, units__gte=queue.case_units)
    if queue.channel_kinds:
        capacity = capacity.filter(channel_kind__in=queue.channel_kinds)
    if not capacity.exists():
        kinds = ", ".join(queue.channel_kinds) or "any channel kind"
        return [
            f"no agent can serve queue {queue.name!r}: no skilled member has {queue.case_units} unit(s) "
            f"of capacity on {kinds}"
        ]
    return []
