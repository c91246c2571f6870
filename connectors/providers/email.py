"""The email provider: one mailbox channel, mail in by SMTP (``manage.py
smtpd``), IMAP (``manage.py fetch_mail``) or raw MIME posted to the hook.

Hook: ``POST /hooks/<channel-key>/`` with ``Content-Type: message/rfc822``,
the raw message as the body, and ``X-Switchboard-Signature: sha256=<hex
HMAC-SHA256 of the body with the channel's secret>``.

The dedupe key is the Message-ID (a message without one: the SHA-256 of its
bytes), so the same mail arriving by two routes is stored once. A reply joins
its case through In-Reply-To/References; auto-replies and bulk mail are
ignored (never a case, never an answer); a bounce marks our reply failed.
Replies go out by SMTP through Django's email backend (see ``outbound``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.parser import BytesHeaderParser

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.normalized import MessageKind, NormalizedMessage, Sender
from connectors.email import attachments, outbound
from connectors.email.models import EmailDetail
from connectors.email.parse import EmailInvalid, ParsedEmail, message_ids, parse_email
from connectors.email.threading import thread_key_for
from connectors.providers.base import PayloadInvalid, SendResult, SignatureInvalid, signatures_match
from connectors.providers.base import header as _header
from connectors.providers.generic_json import SIGNATURE_HEADER, sign

CONTENT_TYPE = "message/rfc822"


def dedupe_key_of(raw: bytes) -> str:
    """The message's Message-ID, or a hash of its bytes when it has none."""
    if not raw or not raw.strip():
        raise PayloadInvalid("the body is empty: expected a raw email message (RFC 5322)")
    try:
        headers = BytesHeaderParser().parsebytes(raw[: 256 * 1024])
        ids = message_ids(headers.get("Message-ID"))
    except Exception:
        ids = []
    if ids:
        return ids[0]
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


class EmailProvider:
    name = "email"
    label = "Email (SMTP listener, IMAP poller or raw MIME to the hook)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        if not signatures_match(sign(channel.secret, body), given.strip()):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        content_type = _header(headers, "Content-Type").split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise PayloadInvalid(f"Content-Type must be {CONTENT_TYPE} (the raw message as the body)")
        return dedupe_key_of(body)

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        raw = bytes(event.body)
        try:
            parsed = parse_email(raw)
        except EmailInvalid as exc:
            raise PayloadInvalid(str(exc)) from None
        own_id = event.dedupe_key or dedupe_key_of(raw)
        _keep_detail(event=event, parsed=parsed)
        if parsed.report is not None:
            return [self._report(channel=channel, parsed=parsed)]
        if parsed.automated:
            return [self._ignore(channel=channel, own_id=own_id, reason=parsed.automated)]
        try:
            address = normalize_identity(IdentityKind.EMAIL, parsed.from_address)
        except InvalidIdentity as exc:
            raise PayloadInvalid(f"the sender address {parsed.from_address!r} is not valid: {exc}") from None
        if address == (channel.config or {}).get("address", "").lower():
            return [self._ignore(channel=channel, own_id=own_id, reason="sent by this mailbox itself (a loop)")]
        rows = attachments.store_attachments(event=event, parsed=parsed)
        text = parsed.text
        if not text.strip() and not parsed.html.strip():
            text = "(no text)" if rows else "(empty message)"
        return [
            NormalizedMessage(
                kind=MessageKind.MESSAGE,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=own_id,
                thread_key=thread_key_for(channel=channel, parsed=parsed, sender_address=address, own_id=own_id),
                sender=Sender(identity_kind=IdentityKind.EMAIL, address=address, display_name=parsed.from_name),
                text=text,
                html=attachments.link_inline_images(parsed.html, rows),
                subject=parsed.subject,
                attachments=attachments.described(rows),
                sent_at=parsed.sent_at,
                extra={"quoted": parsed.quoted, "message_id": parsed.message_id},
            )
        ]

    def _report(self, *, channel, parsed: ParsedEmail) -> NormalizedMessage:
        report = parsed.report
        original = report.original_message_id or (parsed.in_reply_to[0] if parsed.in_reply_to else "")
        if original and report.action in ("failed", "delivered"):
            error = " ".join(p for p in (report.status, report.diagnostic) if p) if report.failed else ""
            return NormalizedMessage(
                kind=MessageKind.DELIVERY_STATUS,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=original,
                delivery_status=report.action,
                delivery_error=(error or "bounced")[:2000] if report.failed else "",
                extra={"recipient": report.recipient},
            )
        return self._ignore(channel=channel, own_id=original, reason=f"delivery report: {report.action}")

    def _ignore(self, *, channel, own_id: str, reason: str) -> NormalizedMessage:
        return NormalizedMessage(
            kind=MessageKind.IGNORE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=own_id,
            extra={"reason": reason},
        )

    def send(self, *, channel, message) -> SendResult:
        return outbound.send_reply_mail(channel=channel, message=message)


def _keep_detail(*, event, parsed: ParsedEmail) -> None:
    EmailDetail.objects.update_or_create(
        event=event,
        defaults={
            "message_id": parsed.message_id[:255],
            "in_reply_to": (parsed.in_reply_to[0] if parsed.in_reply_to else "")[:255],
            "references": parsed.references,
            "subject": parsed.subject[:255],
            "from_address": parsed.from_address[:254],
            "quoted_text": parsed.quoted,
            "automated": parsed.automated[:255],
            "defects": parsed.defects[:20],
        },
    )
