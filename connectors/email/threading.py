"""Which case a mail belongs to.

A reply names the messages it answers (In-Reply-To, References): the first
of them we know, inbound or our own reply (both are stored with their
Message-ID in the indexed ``Message.provider_message_id``), gives the case's
thread. Failing that, a case reference in the subject ("[#123]") joins that
case when the sender is that case's customer. Anything else is a new thread,
keyed by its first message, so later replies in it join each other.
"""

from __future__ import annotations

import hashlib
import re

from cases.identities import IdentityKind
from cases.models import Case, Identity, Message
from connectors.email.parse import ParsedEmail

CASE_REFERENCE = re.compile(r"\[#(\d{1,12})\]")


def case_reference(subject: str) -> int | None:
    found = CASE_REFERENCE.search(subject or "")
    return int(found.group(1)) if found else None


def subject_with_reference(subject: str, case_id: int) -> str:
    """The subject of a reply: "Re: <subject> [#<case>]", each added once."""
    subject = (subject or "").strip() or "Your request"
    if not re.match(r"(?i)^(re|aw|odp|sv|vs)\s*:", subject):
        subject = f"Re: {subject}"
    if f"[#{case_id}]" not in subject:
        subject = f"{subject} [#{case_id}]"
    return subject


def thread_key_for(*, channel, parsed: ParsedEmail, sender_address: str, own_id: str) -> str:
    ids = parsed.thread_ids[:60]
    if ids:
        known = dict(
            Message.objects.filter(channel=channel, provider_message_id__in=ids)
            .exclude(case__thread_key="")
            .values_list("provider_message_id", "case__thread_key")
        )
        for mid in ids:
            if mid in known:
                return known[mid]
    reference = case_reference(parsed.subject)
    if reference is not None:
        case = Case.objects.filter(pk=reference, channel=channel).exclude(thread_key="").first()
        if (
            case is not None
            and Identity.objects.filter(
                customer_id=case.customer_id, kind=IdentityKind.EMAIL, address=sender_address
            ).exists()
        ):
            return case.thread_key
    root = parsed.references[0] if parsed.references else (parsed.in_reply_to[0] if parsed.in_reply_to else own_id)
    return thread_key(root)


def thread_key(message_id: str) -> str:
    key = f"email:{message_id}"
    if len(key) <= 255:
        return key
    return f"email:sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"
