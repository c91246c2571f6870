"""An agent's reply on an email case, sent by SMTP through Django's email
backend, threaded the way mail clients thread: a Message-ID of ours (kept as
the message's ``provider_message_id``, so the customer's answer finds the
case), In-Reply-To the customer's last mail, References the thread, and the
case reference in the subject. A failure is returned, never raised: the
message is marked failed with the error.
"""

from __future__ import annotations

import os
import secrets
import smtplib
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from cases.identities import IdentityKind
from cases.models import Identity, Message
from connectors.email.models import EmailDetail
from connectors.email.threading import subject_with_reference
from connectors.providers.base import SendResult

MAX_REFERENCES = 20


def connection_for(channel):
    """Django's configured backend; a channel's ``config["smtp"]`` may name its
    own server: host, port, username, password_env (the name of an
    environment variable holding the password), use_tls, use_ssl, timeout."""
    smtp = (channel.config or {}).get("smtp") or {}
    options = {}
    for key in ("host", "port", "username", "use_tls", "use_ssl", "timeout"):
        if key in smtp:
            options[key] = smtp[key]
    if smtp.get("password_env"):
        options["password"] = os.environ.get(smtp["password_env"], "")
    return get_connection(fail_silently=False, **options)


def send_reply_mail(*, channel, message) -> SendResult:
    case = message.case
    last_in = (
        Message.objects.filter(case=case, direction=Message.Direction.INBOUND, sender_identity__kind=IdentityKind.EMAIL)
        .select_related("sender_identity")
        .order_by("-created_at", "-pk")
        .first()
    )
    if last_in is not None:
        to = last_in.sender_identity.address
    else:
        to = (
            Identity.objects.filter(customer_id=case.customer_id, kind=IdentityKind.EMAIL)
            .values_list("address", flat=True)
            .first()
        )
    if not to:
        return SendResult(status="failed", error="the customer has no email address to reply to")
    config = channel.config or {}
    from_address = config.get("address") or settings.DEFAULT_FROM_EMAIL
    from_name = config.get("from_name") or channel.name
    # Short enough not to be folded: sb<message>.<random>@<domain>.
    message_id = f"<sb{message.pk}.{secrets.token_hex(6)}@{settings.SWITCHBOARD['EMAIL_DOMAIN']}>"
    headers = {"Message-ID": message_id}
    in_reply_to, references = _thread_of(last_in)
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
        headers["References"] = " ".join(f"<{mid}>" for mid in references)
    mail = EmailMessage(
        subject=subject_with_reference(" ".join((case.subject or "").split()), case.pk),
        body=message.text,
        from_email=formataddr((from_name, from_address)),
        to=[to],
        headers=headers,
        connection=connection_for(channel),
    )
    try:
        mail.send()
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        status = "retry" if _transient(exc) else "failed"
        return SendResult(status=status, error=f"{type(exc).__name__}: {exc}"[:2000])
    return SendResult(status="sent", provider_message_id=message_id.strip("<>"))


def _transient(exc: Exception) -> bool:
    """Worth trying again later: the server could not be reached or dropped
    us, or answered with a temporary (4xx) code. A 5xx refusal is final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(exc, OSError)


def _thread_of(last_in: Message | None) -> tuple[str, list[str]]:
    """(the id we answer, the References chain): the customer's references
    plus their message, first id kept and the newest ones after it."""
    if last_in is None or not last_in.provider_message_id or last_in.provider_message_id.startswith("sha256:"):
        return "", []
    detail = EmailDetail.objects.filter(event__message=last_in).first()
    chain = [*(detail.references if detail else []), last_in.provider_message_id]
    chain = list(dict.fromkeys(mid for mid in chain if mid))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return last_in.provider_message_id, chain
