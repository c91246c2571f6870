"""What an erasure finds beyond the customer's cases: raw inbound requests
that never became one of the customer's messages, and outbound webhook
deliveries about the customer's cases.

Which raw requests are the customer's. A request that became a message is
linked to it (``InboundEvent.message``). One that did not (it failed, was
ignored, was a delivery status, an auto-reply or a bounce) is read again as
its provider reads it, without writing anything, and is the customer's when
what it says names one of the customer's identities (its sender, or an
identity it carries, normalized as ``cases`` normalizes them), or points at
one of the customer's messages (a delivery status or bounce of a reply to
them, by the provider's message id; an email answering one of theirs) or
threads (the thread key of one of their cases, on that channel). A request
nobody can read (why most of them failed) is the customer's when its bytes,
lowercased and URL-decoded, contain one of the customer's addresses: the
only clue left, and a raw request naming them is theirs to have erased.

Reading every request that is not linked to a message is a scan; only an
erasure does it, and erasures are rare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.conf import settings

from cases.identities import InvalidIdentity, normalize_identity
from cases.models import Case, Identity, Message
from connectors.email.parse import parse_email
from connectors.models import InboundEvent
from connectors.providers import provider_for
from outhooks.models import Delivery

ERASED = "[erased]"
# Enumerations in webhook payloads, not anyone's words: kept for statistics.
KEPT_PAYLOAD_KEYS = frozenset({"status", "kind", "direction", "event"})


@dataclass
class Footprint:
    """How to recognize the customer: taken before anything is erased."""

    identities: set[tuple[str, str]] = field(default_factory=set)
    message_ids: set[tuple[int, str]] = field(default_factory=set)  # (channel, provider's id)
    threads: set[tuple[int, str]] = field(default_factory=set)  # (channel, thread key)


def footprint(*, people: list[int], cases: Iterable[Case]) -> Footprint:
    cases = list(cases)
    messages = Message.objects.filter(case__in=cases).exclude(provider_message_id="")
    return Footprint(
        identities=set(Identity.objects.filter(customer__in=people).values_list("kind", "address")),
        message_ids=set(messages.values_list("channel_id", "provider_message_id")),
        threads={(c.channel_id, c.thread_key) for c in cases if c.thread_key and c.channel_id},
    )


def _identity(kind: str, address: str) -> tuple[str, str] | None:
    try:
        return kind, normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    except (InvalidIdentity, TypeError):
        return None


def _read(event: InboundEvent) -> tuple[set, set, set] | None:
    """(identities, message ids, thread keys) the request names; ``None``
    when it cannot be read. Email is parsed, not normalized (normalizing
    mail stores its details and files)."""
    if event.channel.provider == "email":
        parsed = parse_email(bytes(event.body))
        report = parsed.report.original_message_id if parsed.report else ""
        ids = {parsed.message_id, report, *parsed.in_reply_to, *parsed.references} - {""}
        return {_identity("email", parsed.from_address)}, ids, set()
    identities, ids, threads = set(), set(), set()
    for item in provider_for(event.channel.provider).normalize(channel=event.channel, event=event):
        if item.sender is not None:
            identities.add(_identity(item.sender.identity_kind, item.sender.address))
        identities.update(_identity(k, a) for k, a in item.extra.get("identities", ()))
        ids.add(item.external_id)
        threads.add(item.thread_key)
    return identities, ids, threads


def _mentions(body: bytes, addresses: set[str]) -> bool:
    text = unquote_plus(bytes(body).decode("utf-8", "replace")).lower()
    return any(address.lower() in text for address in addresses)


def unlinked_events(found: Footprint) -> list[int]:
    """Ids of the not yet erased requests, linked to no message, that are
    the customer's (the module's docstring says how that is decided)."""
    if not found.identities:
        return []
    addresses = {address for _, address in found.identities}
    matched = []
    candidates = (
        InboundEvent.objects.filter(message__isnull=True)
        .exclude(body=b"")
        .select_related("channel")
        .only("pk", "body", "headers", "dedupe_key", "channel")
    )
    for event in candidates.iterator(chunk_size=200):
        try:
            reading = _read(event)
        except Exception:  # unreadable: the reason most failed requests failed
            reading = None
        if reading is None:
            if _mentions(event.body, addresses):
                matched.append(event.pk)
            continue
        identities, ids, threads = reading
        channel = event.channel_id
        if (
            identities & found.identities
            or {(channel, i) for i in ids} & found.message_ids
            or {(channel, t) for t in threads if t} & found.threads
        ):
            matched.append(event.pk)
    return matched


def _scrub_payload(value, key: str = ""):
    if isinstance(value, dict):
        return {k: _scrub_payload(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_payload(v, key) for v in value]
    if isinstance(value, str) and value and key not in KEPT_PAYLOAD_KEYS:
        return ERASED
    return value


def deliveries_to_scrub(*, people: list[int], case_ids: list[int]) -> dict[int, dict]:
    """The outbound webhook deliveries about the customer or their cases
    that still hold something to erase, with their scrubbed payloads: every
    text goes (ids, numbers and statuses stay), and the subscriber's answer,
    which may echo it."""
    about = Delivery.objects.filter(payload__case_id__in=case_ids) | Delivery.objects.filter(
        payload__customer_id__in=people
    )
    scrubbed = {}
    for delivery in about.only("pk", "payload", "response_body", "error"):
        payload = _scrub_payload(delivery.payload)
        if payload != delivery.payload or delivery.response_body or delivery.error:
            scrubbed[delivery.pk] = payload
    return scrubbed


def scrub_deliveries(scrubbed: dict[int, dict]) -> None:
    for pk, payload in scrubbed.items():
        Delivery.objects.filter(pk=pk).update(payload=payload, response_body="", error="")
