"""A chatbot hands a conversation over: one case whose first messages are the
bot's transcript, so the agent sees all of it and the customer never repeats.

Customer lines are inbound messages; bot lines are outbound messages with
``bot_name`` set (and no agent author), already sent. The timeline gets a
``handoff`` event with the reason and what the bot collected.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from cases.events import CaseCreated, MessageAdded
from cases.models import Case, CaseEvent, CaseStatus, Message
from cases.normalized import NormalizedMessage
from cases.services import record, resolve_customer
from config.api import DomainError
from config.events import publish_on_commit


class HandoffConflict(DomainError):
    code = "handoff_conflict"


def open_handoff_case(*, channel, normalized: NormalizedMessage, now: datetime) -> tuple[Case, Message]:
    """Create the case of a handoff (call inside a transaction). Returns the
    case and its first customer message."""
    sender = normalized.sender
    customer, identity = resolve_customer(
        kind=sender.identity_kind,
        address=sender.address,
        display_name=sender.display_name,
        language=normalized.language,
    )
    transcript = normalized.extra["transcript"]
    subject = normalized.subject or normalized.text.strip().splitlines()[0][:255]
    try:
        with transaction.atomic():
            case = Case.objects.create(
                customer=customer,
                channel=channel,
                channel_kind=channel.kind,
                thread_key=normalized.thread_key,
                subject=subject[:255],
                language=normalized.language or customer.language,
                status=CaseStatus.NEW,
                created_at=now,
            )
    except IntegrityError:
        raise HandoffConflict(f"conversation {normalized.external_id!r} already has an open case") from None
    messages = []
    for i, line in enumerate(transcript):
        is_bot = line["from"] == "bot"
        messages.append(
            Message(
                case=case,
                direction=Message.Direction.OUTBOUND if is_bot else Message.Direction.INBOUND,
                channel=channel,
                channel_kind=channel.kind,
                provider_message_id=f"{normalized.external_id}#{i}",
                text=line["text"],
                bot_name=(line.get("bot_name") or "Bot") if is_bot else "",
                sender_identity=None if is_bot else identity,
                delivery_status=Message.Delivery.SENT if is_bot else Message.Delivery.RECEIVED,
                sent_at=line.get("sent_at"),
                created_at=now,
            )
        )
    Message.objects.bulk_create(messages)
    stored = list(case.messages.order_by("pk"))
    first_customer = next(m for m in stored if m.direction == Message.Direction.INBOUND)
    case.last_customer_message_at = now
    case.save(update_fields=["last_customer_message_at", "updated_at"])
    record(case=case, kind=CaseEvent.Kind.CREATED, now=now, channel=channel.key)
    record(
        case=case,
        kind=CaseEvent.Kind.HANDOFF,
        now=now,
        conversation_id=normalized.external_id,
        reason=normalized.extra["reason"],
        collected=normalized.extra["collected"],
        lines=len(stored),
    )
    publish_on_commit(CaseCreated(case_id=case.pk, customer_id=customer.pk))
    for message in stored:
        publish_on_commit(
            MessageAdded(case_id=case.pk, message_id=message.pk, direction=message.direction, assignee_id=None)
        )
    return case, first_customer


def handoff_text(normalized: NormalizedMessage) -> str:
    """What the routing rules read: the customer's lines, the reason and the
    collected values."""
    parts = [line["text"] for line in normalized.extra["transcript"] if line["from"] == "customer"]
    parts.append(normalized.extra["reason"])
    parts.extend(str(v) for v in normalized.extra["collected"].values() if v is not None)
    return "\n".join(parts)


__all__ = ["HandoffConflict", "handoff_text", "open_handoff_case"]
