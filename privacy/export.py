"""Everything Switchboard keeps about one customer, as plain JSON-ready data
(``manage.py export_customer``): the customer, its identities, every case
with its messages, timeline, calls, promises and files (described, not
included), and the customers merged into it."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Q

from calls.models import CallSession
from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.models import Case, CaseEvent, Customer, CustomerMerge, Identity, Message
from connectors.models import EmailAttachment, EmailDetail, InboundEvent
from sla.models import Promise


class CustomerNotFound(LookupError):
    pass


def survey_model():
    """The satisfaction surveys' model, when that app is installed."""
    try:
        return apps.get_model("surveys", "Survey")
    except LookupError:
        return None


def find_customer(reference: str) -> Customer:
    """A customer by id (``42``) or identity (``email:ana@example.com``,
    ``phone:+34600111222`` or just the address); raises ``CustomerNotFound``."""
    reference = (reference or "").strip()
    if not reference or "\x00" in reference:
        raise CustomerNotFound("give a customer id or an identity such as email:ana@example.com")
    if reference.isascii() and reference.isdigit():
        if len(reference) > 18 or not (found := Customer.objects.filter(pk=int(reference)).first()):
            raise CustomerNotFound(f"no customer with id {reference}")
        return found
    kind, sep, address = reference.partition(":")
    kinds = [kind] if sep and kind in IdentityKind.values else list(IdentityKind.values)
    address = address if sep and kind in IdentityKind.values else reference
    for candidate in kinds:
        try:
            normalized = normalize_identity(candidate, address)
        except InvalidIdentity:
            continue
        identity = Identity.objects.select_related("customer").filter(kind=candidate, address=normalized).first()
        if identity is not None:
            return identity.customer
    raise CustomerNotFound(f"no customer has the identity {reference!r}")


def related_customers(customer: Customer) -> list[Customer]:
    """The customer and every customer merged into it (the same person)."""
    found, frontier = {customer.pk: customer}, [customer.pk]
    while frontier:
        more = list(Customer.objects.filter(merged_into__in=frontier).exclude(pk__in=found))
        found.update((c.pk, c) for c in more)
        frontier = [c.pk for c in more]
    return list(found.values())


def _time(value):
    return value.isoformat() if value else None


def _message(m: Message) -> dict:
    return {
        "id": m.pk,
        "direction": m.direction,
        "channel_kind": m.channel_kind,
        "text": m.text,
        "html": m.html,
        "attachments": m.attachments,
        "bot_name": m.bot_name,
        "sender": str(m.sender_identity) if m.sender_identity_id else None,
        "delivery_status": m.delivery_status,
        "sent_at": _time(m.sent_at),
        "created_at": _time(m.created_at),
    }


def _surveys(case: Case) -> list:
    survey = survey_model()
    return list(survey.objects.filter(case=case).order_by("sent_at")) if survey else []


def _case(case: Case) -> dict:
    messages = list(case.messages.select_related("sender_identity"))
    files = EmailAttachment.objects.filter(event__message__in=messages).order_by("event_id", "index")
    return {
        "id": case.pk,
        "channel_kind": case.channel_kind,
        "subject": case.subject,
        "status": case.status,
        "priority": case.priority,
        "language": case.language,
        "created_at": _time(case.created_at),
        "resolved_at": _time(case.resolved_at),
        "closed_at": _time(case.closed_at),
        "messages": [_message(m) for m in messages],
        "events": [
            {"kind": e.kind, "data": e.data, "created_at": _time(e.created_at)}
            for e in CaseEvent.objects.filter(case=case).order_by("created_at", "pk")
        ],
        "attachments": [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "stored": bool(a.file), "sha256": a.sha256}
            for a in files
        ],
        "calls": [
            {
                "call_id": c.call_id,
                "from": c.from_number,
                "to": c.to_number,
                "state": c.state,
                "started_at": _time(c.started_at),
                "duration_seconds": c.duration_seconds,
                "transcription": c.transcription,
            }
            for c in CallSession.objects.filter(case=case).order_by("started_at")
        ],
        "promises": [
            {"due_at": _time(p.due_at), "status": p.status, "note": p.note, "channel_kind": p.channel_kind}
            for p in Promise.objects.filter(case=case).order_by("due_at")
        ],
        "surveys": [
            {
                "sent_at": _time(s.sent_at),
                "answered_at": _time(s.answered_at),
                "score": s.score,
                "comment": s.comment,
                "via": s.answered_via,
            }
            for s in _surveys(case)
        ],
        "emails": [
            {"from": d.from_address, "subject": d.subject, "message_id": d.message_id}
            for d in EmailDetail.objects.filter(event__message__in=messages)
        ],
    }


def export_customer(customer: Customer) -> dict:
    people = related_customers(customer)
    ids = [c.pk for c in people]
    return {
        "customer": {
            "id": customer.pk,
            "display_name": customer.display_name,
            "tier": customer.tier,
            "language": customer.language,
            "created_at": _time(customer.created_at),
        },
        "merged_customers": [{"id": c.pk, "display_name": c.display_name} for c in people if c.pk != customer.pk],
        "identities": [
            {"kind": i.kind, "address": i.address, "created_at": _time(i.created_at)}
            for i in Identity.objects.filter(customer__in=ids).order_by("pk")
        ],
        "merges": [
            {"source": m.source_id, "target": m.target_id, "at": _time(m.created_at), "undone_at": _time(m.undone_at)}
            for m in CustomerMerge.objects.filter(Q(source__in=ids) | Q(target__in=ids)).order_by("created_at")
        ],
        "cases": [_case(c) for c in Case.objects.filter(customer__in=ids).order_by("created_at", "pk")],
        "inbound_events": InboundEvent.objects.filter(message__case__customer__in=ids).count(),
    }
