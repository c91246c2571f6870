"""Retries of outbound messages, for every provider.

A send that a provider answers with ``retry`` (a timeout, a 5xx, a 429) keeps
its message queued and is tried again with exponential backoff:
``OUTBOUND_RETRY_BASE_SECONDS`` × 3ⁿ (10 s, 30 s, 90 s, …) until
``OUTBOUND_MAX_ATTEMPTS`` tries were made; then the message is failed with the
last error and escalated (``outbound_failed``).

The attempt count and the next-try time live in a row per message
(``DeliveryAttempt``) with an indexed due time. Before each send the row is
claimed: its next-try time moves ``OUTBOUND_SEND_LEASE_SECONDS`` ahead, so
another worker (or the tick) does not send the same message at the same time,
and a worker that dies mid-send leaves a row the tick picks up after the
lease. The same idempotency key goes with every try of one message, so a
provider that saw a try we took for lost does not send twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction


class DeliveryAttempt(models.Model):
    """Where the sending of one outbound message stands."""

    message = models.OneToOneField("cases.Message", on_delete=models.CASCADE, related_name="delivery_attempt")
    attempts = models.PositiveIntegerField(default=0, help_text="Sends tried so far.")
    next_try_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next try is due (or the current try's lease ends); empty when done."
    )
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "connectors"
        indexes = [
            models.Index(fields=["next_try_at"], condition=models.Q(next_try_at__isnull=False), name="delivery_due_idx")
        ]

    def __str__(self) -> str:
        return f"delivery of message {self.message_id}: {self.attempts} tries"


def idempotency_key(message) -> str:
    """The same for every try of one message."""
    return f"switchboard-message-{message.pk}"


def max_attempts() -> int:
    return max(1, int(settings.SWITCHBOARD.get("OUTBOUND_MAX_ATTEMPTS", 5)))


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: base × 3^(attempts-1)."""
    base = int(settings.SWITCHBOARD.get("OUTBOUND_RETRY_BASE_SECONDS", 10))
    return timedelta(seconds=base * 3 ** max(0, attempts - 1))


def claim(*, message_id: int, now: datetime) -> DeliveryAttempt | None:
    """Take the next try of a message: None when another worker holds it or
    it is not due yet. Commits at once, before the provider is called."""
    lease = timedelta(seconds=int(settings.SWITCHBOARD.get("OUTBOUND_SEND_LEASE_SECONDS", 60)))
    with transaction.atomic():
        attempt, created = DeliveryAttempt.objects.get_or_create(
            message_id=message_id, defaults={"next_try_at": now, "updated_at": now}
        )
        if not created:
            attempt = DeliveryAttempt.objects.select_for_update().get(pk=attempt.pk)
            # Under the lock, read again whether it still waits to be sent:
            # another worker may have sent it since this one looked.
            from cases.models import Message

            if not Message.objects.filter(pk=message_id, delivery_status=Message.Delivery.QUEUED).exists():
                return None
            if attempt.next_try_at is None:
                attempt.attempts = 0  # settled before and queued again (a resend): a new round of tries
            elif attempt.next_try_at > now:
                return None
        attempt.attempts += 1
        attempt.next_try_at = now + lease
        attempt.updated_at = now
        attempt.save(update_fields=["attempts", "next_try_at", "updated_at"])
    return attempt


def schedule_retry(*, attempt: DeliveryAttempt, error: str, now: datetime) -> bool:
    """After a ``retry`` answer: True when another try is scheduled, False
    when the tries are used up (the caller fails the message)."""
    attempt.last_error = error
    attempt.updated_at = now
    attempt.next_try_at = now + backoff(attempt.attempts) if attempt.attempts < max_attempts() else None
    attempt.save(update_fields=["last_error", "next_try_at", "updated_at"])
    return attempt.next_try_at is not None


def finish(*, attempt: DeliveryAttempt, error: str, now: datetime) -> None:
    attempt.last_error = error
    attempt.next_try_at = None
    attempt.updated_at = now
    attempt.save(update_fields=["last_error", "next_try_at", "updated_at"])


def due_message_ids(*, now: datetime, limit: int = 100) -> list[int]:
    """Messages whose next try (or an expired lease) is due."""
    return list(
        DeliveryAttempt.objects.filter(next_try_at__lte=now)
        .order_by("next_try_at")
        .values_list("message_id", flat=True)[:limit]
    )
