"""Case changes → the customer's widget (queued, an agent joined, ended)."""

from __future__ import annotations

from cases.events import CaseStatusChanged
from config import events
from connectors.webchat import services
from routing.events import CaseAssigned


def on_cases_changed(batch: list[CaseStatusChanged] | list[CaseAssigned]) -> None:
    """A router batch publishes one event per case: one query finds the few
    that are live web chats, and only those cost a push."""
    from cases.models import Case

    ids = list(dict.fromkeys(event.case_id for event in batch))
    chats = (
        Case.objects.filter(pk__in=ids, channel__provider="webchat")
        .exclude(channel_kind="email")
        .values_list("pk", flat=True)
    )
    for case_id in chats:
        services.push_status(case_id=case_id)


def connect() -> None:
    events.subscribe_batch(CaseStatusChanged, on_cases_changed)
    events.subscribe_batch(CaseAssigned, on_cases_changed)
