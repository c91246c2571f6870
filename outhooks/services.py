"""Deliveries: created when an event happens, sent by the periodic scan.

The periodic tick hands due deliveries to workers; a worker *claims* one
(``SKIP LOCKED``, then a lease on its next-attempt time) before sending, so
with several scanners and workers at once each attempt is made by one of
them, once; a worker that dies mid-send leaves it to be retried after the
lease. A 2xx answer delivers; anything
else (or no answer) schedules the next attempt with exponential backoff, and
after ``MAX_ATTEMPTS`` the delivery is given up as failed (kept, visible).

The body is JSON; ``X-Switchboard-Signature: sha256=<hex>`` is the
HMAC-SHA256 of the exact body bytes keyed with the subscription's secret.
Only public addresses are delivered to (``outhooks.addresses``): a URL
whose host resolves to a private address by then fails that attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config import background
from outhooks import addresses
from outhooks.models import Delivery, Subscription

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
TIMEOUT_SECONDS = 10
LEASE_SECONDS = 60  # longer than one attempt can take (TIMEOUT_SECONDS)
EXCERPT_CHARS = 1000


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, … at most 1 h."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS))


def enqueue(*, event: str, data: dict, now: datetime) -> list[Delivery]:
    """One pending delivery per active subscription to ``event``."""
    return enqueue_many([(event, data)], now=now)


def enqueue_many(items: list[tuple[str, dict]], *, now: datetime) -> list[Delivery]:
    """Deliveries for many events at once (a router batch publishes one per
    case): one query for the subscriptions, one insert, nothing when nobody
    subscribed."""
    if not items:
        return []
    subscriptions = list(Subscription.objects.filter(active=True))
    if not subscriptions:
        return []
    deliveries = []
    for event, data in items:
        wanted = [s for s in subscriptions if event in s.events]
        if wanted:
            payload = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
            deliveries += [
                Delivery(subscription=s, event=event, payload=payload, created_at=now, next_attempt_at=now)
                for s in wanted
            ]
    return Delivery.objects.bulk_create(deliveries)


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(
        {
            "id": delivery.pk,
            "event": delivery.event,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def _send(delivery: Delivery) -> tuple[int | None, str, str]:
    """POST the delivery: (status code or None, answer excerpt, error)."""
    body = body_of(delivery)
    if not delivery.subscription.url.lower().startswith(("http://", "https://")):
        return None, "", "only http(s) URLs are delivered to"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        delivery.subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Switchboard-Webhooks/1",
            "X-Switchboard-Event": delivery.event,
            "X-Switchboard-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: sign(delivery.subscription.secret, body),
        },
    )
    try:
        with addresses.opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(EXCERPT_CHARS).decode(errors="replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(EXCERPT_CHARS).decode(errors="replace"), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, "", str(getattr(exc, "reason", exc))[:500]


def due_delivery_ids(*, now: datetime, limit: int) -> list[int]:
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due(*, now: datetime, limit: int = 100) -> int:
    """The tick's part: hand the due deliveries (and those whose worker died
    mid-send, once their lease ended) to workers; each claims its own."""
    from outhooks.tasks import deliver as deliver_task

    due = due_delivery_ids(now=now, limit=limit)
    for delivery_id in due:
        background.enqueue(deliver_task, delivery_id=delivery_id, scanned_at=now.isoformat())
    return len(due)


def claim(*, delivery_id: int, now: datetime) -> Delivery | None:
    """Take a due delivery for one attempt: its next-attempt time moves a
    lease ahead, so no other worker takes it meanwhile (``SKIP LOCKED``: one
    that is being claimed right now is left to its claimer). None: not due,
    done, or someone else's."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        delivery.save(update_fields=["next_attempt_at"])
    return delivery


def deliver(*, delivery_id: int, now: datetime) -> Delivery | None:
    """One attempt of one delivery, if it is due and nobody else holds it."""
    delivery = claim(delivery_id=delivery_id, now=now)
    if delivery is None:
        return None
    subscription = Subscription.objects.get(pk=delivery.subscription_id)
    delivery.subscription = subscription
    if not subscription.active:
        delivery.status, delivery.error, delivery.next_attempt_at = (
            Delivery.Status.FAILED,
            "subscription inactive",
            None,
        )
        delivery.save(update_fields=["status", "error", "next_attempt_at"])
        return delivery
    code, excerpt, error = _send(delivery)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = code
    delivery.response_body = excerpt
    delivery.error = error
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = Delivery.Status.DELIVERED, now, None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        log.warning("webhook delivery %s gave up after %s attempts: %s", delivery.pk, delivery.attempts, error)
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save()
    return delivery
