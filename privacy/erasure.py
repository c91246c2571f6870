"""Erase a customer (``manage.py erase_customer``); old cases are purged by
``privacy.retention``.

Erasure keeps the rows that statistics count (cases, messages, their times,
statuses and channels) and removes what says who the customer is or what
they wrote, across every case of the customer and of the customers merged
into it: names, identities (deleted: a new message from the same address
starts a new customer), message texts, HTML and attachment lists, case
subjects and thread keys, the raw inbound requests and email headers (those
of their messages, and those that never became one: failed, ignored,
delivery statuses; ``privacy.traces`` says how they are recognized), stored
files (deleted from storage), call numbers and transcriptions, promise notes,
every text in the timeline's data and in outbound webhook deliveries about
their cases. An ``ErasureRecord`` says when and how many, never what.
Running it again changes nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from calls.models import CallSession
from cases.models import Case, CaseEvent, Customer, CustomerMerge, Identity, Message
from connectors.models import DeliveryAttempt, EmailAttachment, EmailDetail, InboundEvent
from dashboards.models import Escalation
from privacy import traces
from privacy.export import related_customers, survey_model
from privacy.models import ErasureRecord
from sla.models import Promise

log = logging.getLogger(__name__)

ERASED_NAME = "(erased)"
ERASED = "[erased]"


def _scrub(value):
    """Numbers, booleans and nulls stay (ids, counts); every text goes."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return ERASED if value else value
    return value


def delete_files_on_commit(attachments) -> int:
    """Delete the stored files once the rows saying so are committed (a
    rolled-back erasure keeps them); returns how many."""
    stored = [(a.file.storage, a.file.name) for a in attachments if a.file]

    def delete() -> None:
        for storage, name in stored:
            storage.delete(name)

    transaction.on_commit(delete)
    return len(stored)


def erase_customer(*, customer_id: int, now: datetime, requested_by: str = "") -> ErasureRecord | None:
    """Erase one customer; returns the record, or ``None`` when there was
    nothing left to erase (already erased). Raises ``Customer.DoesNotExist``."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        people = [c.pk for c in related_customers(customer)]
        cases = Case.objects.filter(customer__in=people)
        messages = Message.objects.filter(case__in=cases)
        found = traces.footprint(people=people, cases=cases)
        unlinked = traces.unlinked_events(found)  # failed, ignored, statuses: not linked to a message
        raw = InboundEvent.objects.filter(Q(message__in=messages) | Q(pk__in=unlinked))
        deliveries = traces.deliveries_to_scrub(people=people, case_ids=list(cases.values_list("pk", flat=True)))
        files = list(EmailAttachment.objects.filter(event__in=raw).exclude(name=ERASED))
        counts = {
            "customers": Customer.objects.filter(pk__in=people).exclude(display_name=ERASED_NAME, language="").count(),
            "identities": Identity.objects.filter(customer__in=people).count(),
            "messages": messages.exclude(text="", html="", attachments=[]).count(),
            "cases": cases.exclude(subject="", thread_key__startswith="erased:").count(),
            "inbound_events": raw.exclude(body=b"").count(),
            "files": delete_files_on_commit(files),
            "attachments": len(files),
            "webhook_deliveries": len(deliveries),
        }
        if not any(counts.values()):
            return None
        Customer.objects.filter(pk__in=people).update(display_name=ERASED_NAME, language="")
        Identity.objects.filter(customer__in=people).delete()
        CustomerMerge.objects.filter(Q(source__in=people) | Q(target__in=people)).update(
            source_fields={}, identity_ids=[]
        )
        messages.update(text="", html="", attachments=[], delivery_error="", sender_identity=None)
        cases.update(subject="", thread_key=Concat(Value("erased:"), Cast("pk", CharField())))
        for event in CaseEvent.objects.filter(case__in=cases).exclude(data={}):
            CaseEvent.objects.filter(pk=event.pk).update(data=_scrub(event.data))
        raw.update(body=b"", headers={}, remote_addr=None, error="", traceback="")
        EmailDetail.objects.filter(event__in=raw).update(
            from_address="", subject="", quoted_text="", message_id="", in_reply_to="", references=[], defects=[]
        )
        EmailAttachment.objects.filter(pk__in=[f.pk for f in files]).update(
            name=ERASED, file="", sha256="", content_id=""
        )
        CallSession.objects.filter(case__in=cases).update(
            from_number="", recording_url="", transcription="", timeline=[]
        )
        DeliveryAttempt.objects.filter(message__in=messages).update(last_error="")
        traces.scrub_deliveries(deliveries)
        Promise.objects.filter(Q(case__in=cases) | Q(customer__in=people)).update(note="")
        Escalation.objects.filter(case_id__in=cases.values("pk")).update(detail="")
        if survey := survey_model():
            survey.objects.filter(case__in=cases).update(comment="")
        record = ErasureRecord.objects.create(
            kind=ErasureRecord.Kind.ERASURE, customer_id=customer.pk, at=now, requested_by=requested_by, counts=counts
        )
    log.info("customer %s erased: %s", customer.pk, counts)
    return record
