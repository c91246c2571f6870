"""The SMTP listener (``manage.py smtpd``): an aiosmtpd handler that accepts
mail for the addresses of active email channels and stores each message
first. It answers 250 only after the message is committed; a database
failure answers 451 so the sending server retries — no mail is lost."""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from connectors.email.inbound import mailbox_channels, store_mail

log = logging.getLogger(__name__)


def _channels_for(addresses: list[str]):
    close_old_connections()
    try:
        channels = mailbox_channels()
        return {channels[a.lower()].pk: channels[a.lower()] for a in addresses if a.lower() in channels}
    finally:
        close_old_connections()  # kept open only as long as CONN_MAX_AGE allows


def _store(*, channels, raw: bytes, peer: str | None, mail_from: str, rcpt_to: list[str]) -> list[str]:
    close_old_connections()
    now = timezone.now()
    statuses = []
    try:
        for channel in channels.values():
            result = store_mail(
                channel=channel,
                raw=raw,
                source="smtp",
                now=now,
                remote_addr=peer,
                mail_from=mail_from,
                rcpt_to=",".join(rcpt_to),
            )
            statuses.append(str(result.body.get("status") or result.body.get("error")))
    finally:
        close_old_connections()
    return statuses


class MailboxHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        known = await sync_to_async(_channels_for, thread_sensitive=True)([address])
        if not known:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        try:
            channels = await sync_to_async(_channels_for, thread_sensitive=True)(envelope.rcpt_tos)
            statuses = await sync_to_async(_store, thread_sensitive=True)(
                channels=channels, raw=raw, peer=peer, mail_from=envelope.mail_from or "", rcpt_to=envelope.rcpt_tos
            )
        except Exception:
            log.exception("storing a message from %s failed", peer)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        log.info("smtp message from %s to %s: %s", envelope.mail_from, envelope.rcpt_tos, ", ".join(statuses))
        return "250 2.0.0 Message accepted"


def make_controller(*, hostname: str, port: int) -> Controller:
    """An aiosmtpd controller (its own thread and event loop) for our handler."""
    return Controller(
        MailboxHandler(),
        hostname=hostname,
        port=port,
        data_size_limit=settings.SWITCHBOARD["SMTPD_MAX_MESSAGE_BYTES"],
        server_hostname=settings.SWITCHBOARD["EMAIL_DOMAIN"],
        ident="Switchboard smtpd",
        enable_SMTPUTF8=True,
    )
