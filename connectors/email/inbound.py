"""Raw mail in, stored first: the SMTP listener and the IMAP poller hand
each message here, and it is committed as an ``InboundEvent`` of the
mailbox's channel before anything reads it (normalized after commit, like a
webhook). The same Message-ID twice is acknowledged and stored once."""

from __future__ import annotations

from datetime import datetime

from connectors import services
from connectors.models import Channel
from connectors.providers.email import CONTENT_TYPE


def store_mail(
    *, channel: Channel, raw: bytes, source: str, now: datetime, remote_addr: str | None = None, **envelope: str
) -> services.WebhookResult:
    """``source`` is "smtp" or "imap"; ``envelope`` keeps what the transport
    said (mail_from, rcpt_to, uid…) beside the raw bytes."""
    headers = {"Content-Type": CONTENT_TYPE, "X-Switchboard-Source": source}
    headers |= {f"X-Envelope-{key.replace('_', '-').title()}": str(value)[:1000] for key, value in envelope.items()}
    return services.store_event(channel=channel, body=raw, headers=headers, remote_addr=remote_addr, now=now)


def mailbox_channels() -> dict[str, Channel]:
    """Active email channels by their lower-cased mailbox address."""
    out = {}
    for channel in Channel.objects.filter(is_active=True, provider="email"):
        address = (channel.config or {}).get("address", "").strip().lower()
        if address:
            out[address] = channel
    return out
