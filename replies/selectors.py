"""Reads of the template library shared by the API and the workspace."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from cases.models import Case
from replies.models import Template


def find_templates(
    *, channel_kind: str = "", q: str = "", kind: str = "", language: str = "", active_only: bool = True
) -> QuerySet[Template]:
    """Templates that fit a channel kind (those for every channel too), whose
    name, shortcut or body holds ``q``, of a kind and a language (those for
    any language too)."""
    qs = Template.objects.all()
    if active_only:
        qs = qs.filter(is_active=True)
    if channel_kind:
        # Kinds are slugs, none inside another's quotes: the JSON text holds '"sms"' only if the list does.
        qs = qs.filter(Q(channel_kinds=[]) | Q(channel_kinds__icontains=f'"{channel_kind}"'))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(shortcut__icontains=q) | Q(body__icontains=q))
    if kind:
        qs = qs.filter(kind=kind)
    if language:
        qs = qs.filter(Q(language="") | Q(language__iexact=language))
    return qs


def variable_values(*, case: Case, agent) -> dict[str, str]:
    """The values of the template variables for a reply on ``case`` written
    by ``agent`` (the case's assignee when the writer is not an agent)."""
    agent = agent or case.assignee
    customer_name = (case.customer.display_name or "").strip()
    values = {
        "customer.name": customer_name,
        "customer.first_name": customer_name.split()[0] if customer_name else "",
        "case.id": str(case.pk),
        "queue.name": case.queue.name if case.queue_id else "",  # type: ignore[union-attr]  # queue_id checked
        "agent.name": "",
        "agent.first_name": "",
    }
    if agent is not None:
        name = (agent.display_name or "").strip()
        values["agent.name"] = name
        values["agent.first_name"] = (agent.user.first_name or "").strip() or (name.split()[0] if name else "")
    return values
