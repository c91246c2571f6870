"""Inbound events in, replies out.

Store first: a webhook's raw request is committed as an ``InboundEvent``
before anything is done with it, and the provider gets its 2xx at once.
Normalization runs after commit; a failure keeps the event with its error and
traceback, replayable. A redelivery (same channel, same dedupe key) is
acknowledged and stored nowhere twice.
"""

from __future__ import annotations

import logging
import traceback as tb
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from calls.services import apply_call_event
from cases import intake
from cases.models import Case, CaseStatus, Message
from cases.normalized import MessageKind, NormalizedMessage
from config import background
from config.events import publish_on_commit
from config.logs import is_credential_name
from connectors import outbound
from connectors.events import InboundEventFailed
from connectors.models import Channel, InboundEvent
from connectors.providers import PayloadInvalid, SignatureInvalid, provider_for
from routing.classify import classify_case
from routing.ranking import queue_case

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    status: int
    body: dict = field(default_factory=dict)


def receive_webhook(
    *, channel: Channel, body: bytes, headers: Mapping[str, str], remote_addr: str | None, url: str, now: datetime
) -> WebhookResult:
    """Verify, dedupe and store a provider's request; normalize after commit."""
    provider = provider_for(channel.provider)
    try:
        provider.verify(channel=channel, body=body, headers=headers, url=url)
    except SignatureInvalid as exc:
        return WebhookResult(403, {"error": "bad_signature", "detail": str(exc)})
    result = store_event(channel=channel, body=body, headers=headers, remote_addr=remote_addr, now=now)
    accepted = getattr(provider, "accepted_status", 202)  # Meta retries anything but a 200
    if result.status == 202 and accepted != 202:
        return WebhookResult(accepted, result.body)
    return result


def store_event(
    *, channel: Channel, body: bytes, headers: Mapping[str, str], remote_addr: str | None, now: datetime
) -> WebhookResult:
    """Store a request already authenticated (a verified webhook, a web chat
    frame, a handoff posted with a token): dedupe, commit, normalize after
    commit. A body the provider cannot read is kept as a failed event."""
    from connectors.tasks import process_event

    provider = provider_for(channel.provider)
    # Credentials (Telegram's secret token, cookies, authorization) are not kept.
    stored_headers = {k: v for k, v in headers.items() if not is_credential_name(k)}
    try:
        dedupe_key = provider.dedupe_key(channel=channel, body=body, headers=headers)
    except PayloadInvalid as exc:
        # Kept, with its error, so an admin can see what the sender got wrong.
        event = InboundEvent.objects.create(
            channel=channel,
            received_at=now,
            body=body,
            headers=stored_headers,
            remote_addr=remote_addr,
            status=InboundEvent.Status.FAILED,
            error=str(exc),
        )
        publish_on_commit(InboundEventFailed(event_id=event.pk, channel_id=channel.pk))
        return WebhookResult(400, {"error": "invalid_payload", "detail": str(exc), "event_id": event.pk})
    fields = {
        "channel": channel,
        "received_at": now,
        "body": body,
        "headers": stored_headers,
        "remote_addr": remote_addr,
        "dedupe_key": dedupe_key[:255],
    }
    try:
        if transaction.get_connection().in_atomic_block:
            # A savepoint: a duplicate leaves the caller's transaction usable.
            with transaction.atomic():
                event = InboundEvent.objects.create(**fields)
        else:
            # One INSERT in autocommit: committed when it returns, one round trip.
            event = InboundEvent.objects.create(**fields)
    except IntegrityError:
        return WebhookResult(200, {"status": "duplicate", "dedupe_key": dedupe_key})
    background.enqueue(process_event, event_id=event.pk)  # after commit: at once, or at the caller's commit
    return WebhookResult(202, {"status": "accepted", "event_id": event.pk})


def process_event(*, event_id: int, now: datetime) -> InboundEvent | None:
    """Normalize one stored event and apply what it says. Exactly one worker
    processes an event (``SKIP LOCKED`` on a received event); a failure rolls
    back its partial work and records the error on the event."""
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "channel__default_queue")
            .filter(pk=event_id, status=InboundEvent.Status.RECEIVED)
            .first()
        )
        if event is None:
            return None
        event.attempts += 1
        try:
            with transaction.atomic():
                normalized = provider_for(event.channel.provider).normalize(channel=event.channel, event=event)
                status, message = InboundEvent.Status.IGNORED, None
                for item in normalized:
                    applied, stored = _apply(channel=event.channel, normalized=item, now=now)
                    if applied:
                        status = InboundEvent.Status.PROCESSED
                    message = message or stored
        except Exception as exc:
            log.warning("inbound event %s failed: %s", event.pk, exc)
            event.status = InboundEvent.Status.FAILED
            event.error = f"{type(exc).__name__}: {exc}"
            event.traceback = tb.format_exc()
            publish_on_commit(InboundEventFailed(event_id=event.pk, channel_id=event.channel_id))
        else:
            event.status = status
            event.message = message
            event.error = ""
            event.traceback = ""
        event.processed_at = now
        event.save(update_fields=["status", "message", "error", "traceback", "attempts", "processed_at"])
        return event


def _apply(*, channel: Channel, normalized: NormalizedMessage, now: datetime) -> tuple[bool, Message | None]:
    """Apply one normalized item: (whether it changed anything, the message it
    stored). Messages and handoffs go to cases' intake, a new case to routing
    (in this transaction: a case is never committed unqueued), call events to
    calls, delivery reports to the reply they are about."""
    if normalized.kind is MessageKind.MESSAGE:
        return _route_if_new(intake.take_in_message(channel=channel, normalized=normalized, now=now), now=now)
    if normalized.kind is MessageKind.DELIVERY_STATUS:
        changed = update_delivery(
            channel=channel,
            provider_message_id=normalized.external_id,
            status=normalized.delivery_status,
            error=normalized.delivery_error,
        )
        return changed > 0, None
    if normalized.kind is MessageKind.BOT_HANDOFF:
        return _route_if_new(intake.take_in_handoff(channel=channel, normalized=normalized, now=now), now=now)
    if normalized.kind is MessageKind.CALL_EVENT:
        return apply_call_event(channel=channel, normalized=normalized, now=now)
    if normalized.kind is MessageKind.IGNORE:
        return False, None
    raise NotImplementedError(f"{normalized.kind.value} events are not handled yet")


def _route_if_new(taken: intake.Intake, *, now: datetime) -> tuple[bool, Message | None]:
    """A new (or re-opened) case is classified and queued."""
    if taken.case is not None and taken.case.status == CaseStatus.NEW:
        classify_case(case=taken.case, text=taken.routing_text, now=now)
        queue_case(case=taken.case, now=now)
    return taken.changed, taken.message


_DELIVERY_ORDER = ["queued", "sent", "delivered", "read"]


def update_delivery(*, channel: Channel, provider_message_id: str, status: str, error: str = "") -> int:
    """Move a reply's delivery status forward (never back: a late 'sent' after
    'read' changes nothing); 'failed' always records."""
    messages = Message.objects.select_for_update().filter(
        channel=channel, direction=Message.Direction.OUTBOUND, provider_message_id=provider_message_id
    )
    changed = 0
    for message in messages:
        current = message.delivery_status
        if status == "failed" or (
            current in _DELIVERY_ORDER
            and status in _DELIVERY_ORDER
            and _DELIVERY_ORDER.index(status) > _DELIVERY_ORDER.index(current)
        ):
            message.delivery_status = status
            message.delivery_error = error
            message.save(update_fields=["delivery_status", "delivery_error"])
            changed += 1
            _publish_delivery(message)
            if status == "failed":
                _escalate_outbound_failed(message=message, error=error)
    return changed


def _publish_delivery(message: Message) -> None:
    """The agent's workspace shows each reply's delivery live."""
    from cases.events import MessageStatusChanged

    publish_on_commit(
        MessageStatusChanged(
            case_id=message.case_id,
            message_id=message.pk,
            status=message.delivery_status,
            error=message.delivery_error,
        )
    )


def _escalate_outbound_failed(*, message: Message, error: str) -> None:
    """A reply that did not reach the customer goes to the escalation feed."""
    from cases.events import EscalationRaised

    queue_id = Case.objects.filter(pk=message.case_id).values_list("queue_id", flat=True).first()
    detail = f"Reply {message.pk} was not delivered: {error or 'failed'}"[:300]
    event = EscalationRaised(kind="outbound_failed", case_id=message.case_id, queue_id=queue_id, detail=detail)
    publish_on_commit(event)


def retry_stale_events(*, now: datetime, limit: int = 100) -> int:
    """Events stored but never processed (a worker died, a task was lost)."""
    cutoff = now - timedelta(seconds=settings.SWITCHBOARD["INBOUND_RETRY_AFTER_SECONDS"])
    ids = list(
        InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for event_id in ids:
        if process_event(event_id=event_id, now=now) is not None:
            done += 1
    return done


def replay_events(*, event_ids: Iterable[int], now: datetime) -> list[InboundEvent]:
    """Run failed (or ignored) events again, e.g. after a fix is deployed."""
    out = []
    for event_id in event_ids:
        with transaction.atomic():
            updated = InboundEvent.objects.filter(
                pk=event_id, status__in=[InboundEvent.Status.FAILED, InboundEvent.Status.IGNORED]
            ).update(status=InboundEvent.Status.RECEIVED)
        if updated:
            event = process_event(event_id=event_id, now=now)
            if event is not None:
                out.append(event)
    return out


def deliver_message(*, message_id: int, now: datetime) -> Message | None:
    """Send an outbound message through its channel's provider. A ``retry``
    answer keeps it queued with the next try scheduled (connectors.outbound);
    when the tries are used up it fails with the last error, escalated."""
    message = Message.objects.select_related("channel", "case", "author_agent").filter(pk=message_id).first()
    if message is None or message.delivery_status != Message.Delivery.QUEUED:
        return message
    attempt = outbound.claim(message_id=message.pk, now=now)
    if attempt is None:
        return message  # another worker is sending it, or its next try is not due
    if message.channel is None:
        result_status, provider_id, error = "failed", "", "the case has no channel to reply on"
    else:
        result = provider_for(message.channel.provider).send(channel=message.channel, message=message)
        result_status, provider_id, error = result.status, result.provider_message_id, result.error
    with transaction.atomic():
        if result_status == "retry":
            if outbound.schedule_retry(attempt=attempt, error=error, now=now):
                Message.objects.filter(pk=message.pk, delivery_status=Message.Delivery.QUEUED).update(
                    delivery_error=f"try {attempt.attempts} failed, retrying: {error}"[:2000]
                )
                message.refresh_from_db()
                return message
            result_status = Message.Delivery.FAILED
            error = f"gave up after {attempt.attempts} tries: {error}"
        else:
            outbound.finish(attempt=attempt, error=error, now=now)
        updated = Message.objects.filter(pk=message.pk, delivery_status=Message.Delivery.QUEUED).update(
            delivery_status=result_status, provider_message_id=provider_id, delivery_error=error
        )
        if updated and result_status == Message.Delivery.FAILED:
            _escalate_outbound_failed(message=message, error=error)
    message.refresh_from_db()
    if updated:
        _publish_delivery(message)
    return message


def retry_due_deliveries(*, now: datetime, limit: int = 100) -> int:
    """The tick's part: hand the outbound messages whose next try is due
    (also those whose worker died mid-send, once its lease ended) to workers."""
    from connectors.tasks import deliver_message as deliver_message_task

    due = outbound.due_message_ids(now=now, limit=limit)
    # Settled some other way (an agent's retry, a status report): nothing more to try.
    outbound.DeliveryAttempt.objects.filter(message_id__in=due).exclude(
        message__delivery_status=Message.Delivery.QUEUED
    ).update(next_try_at=None)
    for message_id in due:
        background.enqueue(deliver_message_task, message_id=message_id)  # claimed there: sent once
    return len(due)
