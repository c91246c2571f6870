"""The generic JSON connector: any system that can sign a JSON body.

Request: ``POST /hooks/<channel-key>/`` with ``Content-Type: application/json``
and ``X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the raw body with
the channel's secret>``. Body::

    {
      "id": "msg-1001",                          # required, unique per channel
      "from": {"kind": "email", "address": "ana@example.com", "name": "Ana"},
      "text": "Hola, mi pedido no llegó",        # text or html required
      "html": "<p>…</p>",                        # optional, sanitized on store
      "subject": "…", "thread": "order-77", "language": "es",
      "sent_at": "2026-11-23T10:00:00Z",
      "attachments": [{"name": "a.png", "content_type": "image/png", "size": 123, "url": "https://…"}]
    }

A sender may also sign the time it sent: ``X-Switchboard-Timestamp: <unix
seconds>`` with the signature over ``<timestamp>.<raw body>``; such a request
older (or newer) than ``MAX_AGE_SECONDS`` is refused as a replay. Without the
header the signature covers the body alone, and a replay is stored nowhere
twice (its ``id``).

or a delivery report for one of our replies::

    {"id": "evt-9", "type": "delivery_status", "message_id": "<the reply's id>", "status": "delivered"}

Replies are POSTed, signed the same way, to ``config["reply_url"]`` when the
channel has one; without it the reply is kept in Switchboard (and the API) only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from connectors.providers.base import (
    PayloadInvalid,
    SendResult,
    SignatureInvalid,
    hmac_sha256_hex,
    signatures_match,
)
from connectors.providers.base import header as _header

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
MAX_AGE_SECONDS = 300
DELIVERY_STATUSES = {"sent", "delivered", "read", "failed"}


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on a body."""
    return f"sha256={hmac_sha256_hex(secret, body)}"


def _string(payload: dict, key: str, *, required: bool = False, limit: int = 255) -> str:
    value = payload.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"field '{key}' must be a string")
    if required and not value.strip():
        raise PayloadInvalid(f"field '{key}' is required")
    if len(value) > limit:
        raise PayloadInvalid(f"field '{key}' is longer than {limit} characters")
    return value


class GenericJsonProvider:
    name = "generic_json"
    label = "Generic JSON (HMAC-SHA256 signed)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        stamp = _header(headers, TIMESTAMP_HEADER).strip()
        signed = f"{stamp}.".encode() + body if stamp else body
        if not signatures_match(sign(channel.secret, signed), given.strip()):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the {'timestamp and ' if stamp else ''}body")
        fresh = (
            stamp.isascii()
            and stamp.isdigit()
            and len(stamp) <= 12
            and abs(time.time() - int(stamp)) <= MAX_AGE_SECONDS
        )
        if stamp and not fresh:
            raise SignatureInvalid(f"{TIMESTAMP_HEADER} is not within {MAX_AGE_SECONDS} seconds of now: a replay?")

    def parse(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadInvalid(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
        if not isinstance(payload, dict):
            raise PayloadInvalid("body must be a JSON object")
        _string(payload, "id", required=True)
        kind = payload.get("type", "message")
        if kind == "message":
            self._sender(payload)
            text = _string(payload, "text", limit=100_000)
            html = _string(payload, "html", limit=500_000)
            if not text.strip() and not html.strip():
                raise PayloadInvalid("field 'text' or 'html' is required")
            self._sent_at(payload)
            self._attachments(payload)
        elif kind == "delivery_status":
            _string(payload, "message_id", required=True)
            status = payload.get("status")
            if not isinstance(status, str) or status not in DELIVERY_STATUSES:
                raise PayloadInvalid(f"field 'status' must be one of {', '.join(sorted(DELIVERY_STATUSES))}")
        else:
            raise PayloadInvalid("field 'type' must be 'message' or 'delivery_status'")
        return payload

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        return self.parse(body)["id"]

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        payload = self.parse(bytes(event.body))
        if payload.get("type", "message") == "delivery_status":
            return [
                NormalizedMessage(
                    kind=MessageKind.DELIVERY_STATUS,
                    channel_kind=channel.kind,
                    provider=self.name,
                    external_id=payload["message_id"],
                    delivery_status=payload["status"],
                    delivery_error=_string(payload, "error", limit=2000),
                )
            ]
        return [
            NormalizedMessage(
                kind=MessageKind.MESSAGE,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=payload["id"],
                thread_key=_string(payload, "thread"),
                sender=self._sender(payload),
                text=_string(payload, "text", limit=100_000),
                html=_string(payload, "html", limit=500_000),
                subject=_string(payload, "subject"),
                language=_string(payload, "language", limit=16).lower(),
                attachments=self._attachments(payload),
                sent_at=self._sent_at(payload),
            )
        ]

    def _sender(self, payload: dict) -> Sender:
        sender = payload.get("from")
        if not isinstance(sender, dict):
            raise PayloadInvalid("field 'from' is required: an object with 'kind' and 'address'")
        kind = sender.get("kind") or "external"
        if kind not in IdentityKind.values:
            raise PayloadInvalid(f"field 'from.kind' must be one of {', '.join(IdentityKind.values)}")
        address = _string(sender, "address", required=True)
        try:
            normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
        except InvalidIdentity as exc:
            raise PayloadInvalid(f"field 'from.address': {exc}") from None
        return Sender(identity_kind=kind, address=address, display_name=_string(sender, "name", limit=200))

    def _sent_at(self, payload: dict) -> datetime | None:
        raw = payload.get("sent_at")
        if raw in (None, ""):
            return None
        try:
            parsed = parse_datetime(raw) if isinstance(raw, str) else None
        except ValueError:  # well formed but impossible, e.g. 30 February
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise PayloadInvalid("field 'sent_at' must be an ISO 8601 date-time with a time zone")
        return parsed

    def _attachments(self, payload: dict) -> tuple[Attachment, ...]:
        raw = payload.get("attachments") or []
        if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
            raise PayloadInvalid("field 'attachments' must be a list of objects")
        out = []
        for item in raw[:50]:
            size = item.get("size")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise PayloadInvalid("field 'attachments[].size' must be a whole number of bytes")
            out.append(
                Attachment(
                    name=_string(item, "name", required=True),
                    content_type=_string(item, "content_type") or "application/octet-stream",
                    size=size,
                    url=_string(item, "url", limit=2000),
                )
            )
        return tuple(out)

    def send(self, *, channel, message) -> SendResult:
        reply_url = (channel.config or {}).get("reply_url")
        if not reply_url:
            return SendResult(status="sent", provider_message_id=f"sb-{message.pk}")
        if urllib.parse.urlsplit(reply_url).scheme not in ("http", "https"):
            return SendResult(status="failed", error=f"reply_url must be http or https: {reply_url!r}")
        body = json.dumps(
            {
                "id": f"sb-{message.pk}",
                "case_id": message.case_id,
                "thread": message.case.thread_key,
                "text": message.text,
                "agent": message.author_agent.display_name if message.author_agent_id else None,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            reply_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(channel.secret, body)},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (scheme checked above)
                if 200 <= response.status < 300:
                    return SendResult(status="sent", provider_message_id=f"sb-{message.pk}")
                return SendResult(status="failed", error=f"HTTP {response.status}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(status="failed", error=str(exc))
