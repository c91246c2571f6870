"""Intake: a normalized message becomes a customer, a case and a message.

Every channel comes in here. A connector turns its provider's payload into a
``NormalizedMessage`` (``cases/normalized.py``) and hands it over inside the
inbound event's transaction; intake finds or creates the customer behind the
sender, attaches the message to the case of its thread (or opens one) and
publishes ``CaseCreated`` and ``MessageAdded`` on commit. What a new case
needs next (classification and a queue) is up to the caller, which reads
``Intake.routing_text``: the text routing rules match.

- ``take_in_message``: a customer wrote. Stored once per channel and
  provider message id, also when two deliveries of it race.
- ``take_in_handoff``: a chatbot hands a conversation over with its
  transcript (``cases/handoffs.py``); once per conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.html import strip_tags

from cases import services
from cases.handoffs import handoff_text, open_handoff_case
from cases.models import Case, Message
from cases.normalized import NormalizedMessage


@dataclass(frozen=True, slots=True)
class Intake:
    """What one normalized item did: nothing (a message stored already), or
    the message it stored on its case, with the text routing reads."""

    message: Message | None = None
    case: Case | None = None
    routing_text: str = ""

    @property
    def changed(self) -> bool:
        return self.message is not None


def take_in_message(*, channel, normalized: NormalizedMessage, now: datetime) -> Intake:
    """Store a customer's message on its case (call inside a transaction).
    Nothing happens for a message stored already (the same message inside
    another delivery)."""
    if Message.objects.filter(channel=channel, provider_message_id=normalized.external_id).exists():
        return Intake()  # the same message inside another delivery: stored once
    try:
        with transaction.atomic():  # a savepoint: the rest of a batch goes on
            received = services.receive_message(channel=channel, normalized=normalized, now=now)
    except IntegrityError:
        if Message.objects.filter(channel=channel, provider_message_id=normalized.external_id).exists():
            return Intake()  # stored meanwhile by a concurrent delivery of the same message
        raise
    if normalized.channel_kind and normalized.channel_kind != channel.kind:
        # e.g. a web chat's offline form: an email-style case on the chat
        # channel; a Page comment: a social case on the Page's channel.
        Message.objects.filter(pk=received.message.pk).update(channel_kind=normalized.channel_kind)
        if received.created_case:
            Case.objects.filter(pk=received.case.pk).update(channel_kind=normalized.channel_kind)
            received.case.channel_kind = normalized.channel_kind
    for kind, address in normalized.extra.get("identities", ()):
        # Other addresses the sender gave (a pre-chat email): attached
        # only when nobody holds them; an agent links or merges otherwise.
        services.add_identity_if_free(customer=received.case.customer, kind=kind, address=address)
    text = normalized.text or strip_tags(received.message.html)
    return Intake(message=received.message, case=received.case, routing_text=text)


def take_in_handoff(*, channel, normalized: NormalizedMessage, now: datetime) -> Intake:
    """Open the case of a chatbot's handoff, once per conversation (call
    inside a transaction)."""
    if Message.objects.filter(channel=channel, provider_message_id=f"{normalized.external_id}#0").exists():
        return Intake()  # this conversation was handed over already
    case, first = open_handoff_case(channel=channel, normalized=normalized, now=now)
    return Intake(message=first, case=case, routing_text=handoff_text(normalized))
