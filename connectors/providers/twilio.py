"""Twilio: SMS/MMS and WhatsApp messages, message status callbacks, Voice
call status callbacks, and replies through the Messages API.

Configure at Twilio (the number's "A message comes in" and "Call status
changes" webhooks, and the status callback of messages we send):
``https://<host>/hooks/<channel-key>/`` (HTTP POST). Channel settings:

- ``secret``: the account's **Auth Token** (verifies ``X-Twilio-Signature``
  and authenticates replies);
- ``config["account_sid"]``: the Account SID (``AC…``) replies are sent from;
- ``config["from"]``: the sender of replies (``+15551230000`` or
  ``whatsapp:+15551230000``); default: the number the customer wrote to;
- ``config["api_base"]``: the API's base URL, default ``https://api.twilio.com``;
- ``config["webhook_url"]``: the URL exactly as configured at Twilio, when
  this server sits behind a proxy that changes scheme, host or port.

Requests are form-encoded. The signature is Twilio's: base64 of
HMAC-SHA1(auth token, full URL + each POST parameter's name and value,
sorted by name). Inbound messages are deduped by ``MessageSid``, status
callbacks by ``MessageSid`` and status, call events by ``CallSid`` and status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from django.conf import settings

from calls.normalized import CallEvent
from cases.identities import InvalidIdentity, normalize_identity
from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from connectors.providers.base import PayloadInvalid, SendResult, SignatureInvalid, signatures_match
from connectors.providers.base import header as _header

SIGNATURE_HEADER = "X-Twilio-Signature"
DEFAULT_API_BASE = "https://api.twilio.com"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

# Twilio's MessageStatus -> our delivery status ("" = nothing to record).
MESSAGE_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}
# Twilio's CallStatus -> our call event ("" = nothing to do).
CALL_STATUSES = {
    "queued": "",
    "initiated": "",
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "ended",
    "busy": "missed",
    "no-answer": "missed",
    "canceled": "abandoned",
    "failed": "missed",
}


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """The X-Twilio-Signature Twilio puts on a POST of ``params`` to ``url``."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadInvalid("body is not UTF-8 form data") from None
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=1000)
    except ValueError as exc:
        raise PayloadInvalid(f"body is not form data: {exc}") from None


def _fields(body: bytes) -> dict[str, str]:
    # A repeated name keeps its last value; NUL never reaches the database.
    return {name: value.replace("\x00", "") for name, value in parse_form(body)}


def _kind(fields: Mapping[str, str]) -> str:
    """What a Twilio request is: message, status, call, recording, or other."""
    if fields.get("CallSid"):
        if fields.get("TranscriptionText") or fields.get("TranscriptionStatus"):
            return "transcription"
        if fields.get("RecordingSid") and not fields.get("CallStatus"):
            return "recording"
        return "call" if fields.get("CallStatus") else "other"
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    if not sid:
        return "other"
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    if status and status not in ("received", "receiving"):
        return "status"
    return "message"


def _address(raw: str) -> tuple[str, str]:
    """``whatsapp:+14155550100`` -> (whatsapp, +14155550100); ``+1…`` -> (sms, +1…)."""
    raw = (raw or "").strip()
    if raw.lower().startswith("whatsapp:"):
        return "whatsapp", raw.split(":", 1)[1].strip()
    return "sms", raw


def _phone(raw: str) -> str:
    """The E.164 number in a Twilio address, or "" (a withheld or client caller)."""
    address = _address(raw)[1]
    try:
        return normalize_identity("phone", address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    except InvalidIdentity:
        return ""


def _limited(fields: Mapping[str, str], name: str, limit: int = 255) -> str:
    return (fields.get(name) or "")[:limit]


class TwilioProvider:
    name = "twilio"
    label = "Twilio (SMS, MMS, WhatsApp, Voice)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        try:
            params = parse_form(body)
        except PayloadInvalid as exc:
            raise SignatureInvalid(f"{SIGNATURE_HEADER} cannot be checked: {exc}") from None
        signed_url = (channel.config or {}).get("webhook_url") or url
        if not signatures_match(signature(channel.secret, signed_url, params), given.strip()):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the URL and parameters")

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        fields = _fields(body)
        kind = _kind(fields)
        if kind == "message":
            self._check_message(fields)
            return (fields.get("MessageSid") or fields.get("SmsSid"))[:200]
        if kind == "status":
            sid = fields.get("MessageSid") or fields.get("SmsSid")
            return f"{sid[:200]}:{(fields.get('MessageStatus') or fields.get('SmsStatus'))[:40]}"
        if kind == "call":
            sequence = fields.get("SequenceNumber", "")
            return f"{fields['CallSid'][:120]}:{fields['CallStatus'][:40]}:{sequence[:20]}"
        if kind in ("recording", "transcription"):
            return f"{fields['CallSid'][:120]}:{kind}:{_limited(fields, 'RecordingSid', 64)}"
        # Something Twilio may send that we do not use: stored once, ignored.
        return f"other:{hashlib.sha256(body).hexdigest()}"

    def _check_message(self, fields: Mapping[str, str]) -> None:
        if not fields.get("From", "").strip():
            raise PayloadInvalid("parameter 'From' is required")
        if not _phone(fields["From"]):
            raise PayloadInvalid("parameter 'From' is not a phone number (E.164, or whatsapp:+E.164)")
        try:
            count = int(fields.get("NumMedia") or 0)
        except ValueError:
            raise PayloadInvalid("parameter 'NumMedia' must be a whole number") from None
        if count < 0 or count > 50:
            raise PayloadInvalid("parameter 'NumMedia' must be between 0 and 50")
        if not (fields.get("Body") or "").strip() and count == 0:
            raise PayloadInvalid("a message needs 'Body' or media")

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        fields = _fields(bytes(event.body))
        kind = _kind(fields)
        if kind == "message":
            return [self._message(channel, fields)]
        if kind == "status":
            status = MESSAGE_STATUSES.get(fields.get("MessageStatus") or fields.get("SmsStatus") or "", "")
            sid = fields.get("MessageSid") or fields.get("SmsSid")
            if not status or status == "queued":
                return [self._ignore(channel, sid)]
            error = ""
            if status == "failed":
                code = _limited(fields, "ErrorCode", 20)
                detail = _limited(fields, "ErrorMessage", 500) or (fields.get("MessageStatus") or "failed")
                error = f"Twilio error {code}: {detail}" if code else detail
            return [
                NormalizedMessage(
                    kind=MessageKind.DELIVERY_STATUS,
                    channel_kind=channel.kind,
                    provider=self.name,
                    external_id=sid[:255],
                    delivery_status=status,
                    delivery_error=error,
                )
            ]
        if kind in ("call", "recording", "transcription"):
            return [self._call(channel, fields, kind)]
        return [self._ignore(channel, "")]

    def _ignore(self, channel, external_id: str) -> NormalizedMessage:
        return NormalizedMessage(
            kind=MessageKind.IGNORE, channel_kind=channel.kind, provider=self.name, external_id=external_id
        )

    def _message(self, channel, fields: Mapping[str, str]) -> NormalizedMessage:
        self._check_message(fields)
        channel_kind, address = _address(fields["From"])
        attachments = []
        for index in range(int(fields.get("NumMedia") or 0)):
            url = _limited(fields, f"MediaUrl{index}", 2000)
            if not url:
                continue
            content_type = _limited(fields, f"MediaContentType{index}", 100) or "application/octet-stream"
            extension = mimetypes.guess_extension(content_type) or ""
            attachments.append(Attachment(name=f"media-{index + 1}{extension}", content_type=content_type, url=url))
        return NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel_kind if channel.kind in ("sms", "whatsapp") else channel.kind,
            provider=self.name,
            external_id=(fields.get("MessageSid") or fields.get("SmsSid"))[:255],
            sender=Sender(identity_kind="phone", address=address, display_name=_limited(fields, "ProfileName", 200)),
            text=(fields.get("Body") or "")[:100_000],
            attachments=tuple(attachments),
            extra={"to": _limited(fields, "To", 64)},
        )

    def _call(self, channel, fields: Mapping[str, str], kind: str) -> NormalizedMessage:
        if kind == "call":
            event = CALL_STATUSES.get(fields.get("CallStatus", ""), "")
            if not event:
                return self._ignore(channel, fields["CallSid"])
        else:
            event = "voicemail" if kind == "transcription" else "recording"
        direction = "inbound" if fields.get("Direction", "inbound") == "inbound" else "outbound"
        duration = fields.get("CallDuration") or fields.get("RecordingDuration") or ""
        from_number = _phone(fields.get("From", ""))
        sender = None
        if from_number:
            sender = Sender(identity_kind="phone", address=from_number, display_name=_limited(fields, "CallerName"))
        elif event in ("ringing", "missed", "abandoned", "voicemail"):
            return self._ignore(channel, fields["CallSid"])  # nobody to call back (a withheld number)
        call = CallEvent(
            call_id=fields["CallSid"][:128],
            event=event,
            direction=direction,
            from_number=from_number,
            to_number=_limited(fields, "To", 64),
            caller_name=_limited(fields, "CallerName"),
            duration_seconds=int(duration)
            if duration.isascii() and duration.isdigit() and len(duration) <= 7
            else None,
            recording_url=_limited(fields, "RecordingUrl", 2000),
            transcription=(fields.get("TranscriptionText") or "")[:20_000],
        )
        return NormalizedMessage(
            kind=MessageKind.CALL_EVENT,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=call.call_id,
            sender=sender,
            extra={"call": call},
        )

    def send(self, *, channel, message) -> SendResult:
        from connectors.outbound import idempotency_key

        config = channel.config or {}
        account_sid = config.get("account_sid", "")
        if not account_sid:
            return SendResult(status="failed", error="the channel has no config['account_sid']")
        base = (config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            return SendResult(status="failed", error=f"api_base must be http or https: {base!r}")
        to, sender = self._addresses(channel, message)
        if not to or not sender:
            return SendResult(status="failed", error="no customer number or sender number to reply with")
        params = {"To": to, "From": sender, "Body": message.text[:1600]}
        if config.get("webhook_url"):
            params["StatusCallback"] = config["webhook_url"]  # statuses come back to this channel
        form = urllib.parse.urlencode(params).encode()
        credentials = base64.b64encode(f"{account_sid}:{channel.secret}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            f"{base}/2010-04-01/Accounts/{urllib.parse.quote(account_sid)}/Messages.json",
            data=form,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "Authorization": f"Basic {credentials}",
                IDEMPOTENCY_HEADER: idempotency_key(message),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (scheme checked above)
                payload = _json(response.read())
                sid = str(payload.get("sid") or "")
                if not sid:
                    return SendResult(status="retry", error=f"HTTP {response.status} without a message sid")
                return SendResult(status="sent", provider_message_id=sid[:255])
        except urllib.error.HTTPError as exc:
            payload = _json(exc.read())
            detail = payload.get("message") or exc.reason or "error"
            code = payload.get("code")
            error = f"Twilio {exc.code}" + (f" (error {code})" if code else "") + f": {detail}"
            if exc.code == 429 or exc.code >= 500:
                return SendResult(status="retry", error=error[:2000])
            return SendResult(status="failed", error=error[:2000])
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(status="retry", error=f"Twilio could not be reached: {exc}"[:2000])

    def _addresses(self, channel, message) -> tuple[str, str]:
        """(the customer's number, our number), in WhatsApp form on WhatsApp."""
        from cases.models import Message
        from connectors.models import InboundEvent

        last_inbound = (
            Message.objects.filter(case_id=message.case_id, direction=Message.Direction.INBOUND)
            .select_related("sender_identity")
            .order_by("-created_at", "-pk")
            .first()
        )
        to = ""
        if last_inbound is not None and last_inbound.sender_identity is not None:
            to = last_inbound.sender_identity.address
        config = channel.config or {}
        sender = config.get("from", "")
        if not sender and last_inbound is not None:
            event = InboundEvent.objects.filter(message=last_inbound).only("body").first()
            if event is not None:
                sender = _fields(bytes(event.body)).get("To", "")
        whatsapp = message.channel_kind == "whatsapp" or channel.kind == "whatsapp" or sender.startswith("whatsapp:")
        if whatsapp:
            to = f"whatsapp:{to}" if to and not to.startswith("whatsapp:") else to
            sender = f"whatsapp:{sender}" if sender and not sender.startswith("whatsapp:") else sender
        return to, sender


def _json(raw: bytes) -> dict:
    try:
        payload = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}
