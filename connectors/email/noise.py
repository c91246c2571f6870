"""Mail that is not a person writing: auto-replies, bulk mail and bounces.

An auto-reply answered automatically makes a mail loop, and one that opens a
case wastes an agent's time: ``automated_reason`` names why a message is
automated (RFC 3834 ``Auto-Submitted``, the de-facto ``X-Autoreply`` and
``Precedence``, Microsoft's ``X-Auto-Response-Suppress``), or "".

A bounce (RFC 3464: ``multipart/report; report-type=delivery-status``) says
what happened to one of our replies: ``delivery_report`` reads the action,
status and diagnostic, and the Message-ID of the message that bounced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

REPORT_PART_TYPES = {"message/delivery-status", "message/rfc822", "text/rfc822-headers", "message/rfc822-headers"}

_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str = ""  # e.g. 5.1.1
    diagnostic: str = ""
    recipient: str = ""
    original_message_id: str = ""

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def _value(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:
        return ""
    return str(value or "").strip()[:500]


def automated_reason(message: Message) -> str:
    auto_submitted = _value(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        value = _value(message, header)
        if value and value.lower() not in ("no", "false", "0"):
            return f"{header}: {value}"
    precedence = _value(message, "Precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    suppress = _value(message, "X-Auto-Response-Suppress")
    if suppress:
        return f"X-Auto-Response-Suppress: {suppress}"
    sender = _value(message, "From")
    address = re.search(r"[^<\s]+@[^>\s]+", sender)
    if address and _DAEMONS.match(address.group(0)):
        return f"sent by {address.group(0)}"
    if _value(message, "Return-Path") == "<>":
        return "empty Return-Path (a delivery notice)"
    return ""


def delivery_report(message: Message) -> DeliveryReport | None:
    """The report of a bounce or delivery notice, or None for other mail."""
    try:
        if message.get_content_type() != "multipart/report":
            return None
        if (message.get_param("report-type") or "").lower() != "delivery-status":
            return None
        parts = message.get_payload()
    except Exception:
        return None
    if not isinstance(parts, list):
        return None
    fields: dict[str, str] = {}
    original = ""
    from connectors.email.parse import message_ids  # the one id reader

    for part in parts[:10]:
        if not isinstance(part, Message):
            continue
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            fields = fields or _status_fields(part)
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and not original:
            original = _original_id(part, message_ids)
    action = fields.get("action", "").lower()
    if not action:
        status = fields.get("status", "")
        action = "failed" if status.startswith("5") else "delayed" if status.startswith("4") else "unknown"
    return DeliveryReport(
        action=action[:20],
        status=fields.get("status", "")[:20],
        diagnostic=fields.get("diagnostic-code", "")[:1000],
        recipient=fields.get("final-recipient", "").split(";")[-1].strip()[:254],
        original_message_id=original,
    )


def _status_fields(part: Message) -> dict[str, str]:
    """The first recipient's fields of a message/delivery-status part. The
    parser gives blocks as messages; a part it could not split is text."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload[:20]:
            if isinstance(block, Message):
                blocks.append({k.lower(): str(v).strip() for k, v in block.items()})
    else:
        text = part.get_payload(decode=True) or b""
        for chunk in re.split(rb"\r?\n\r?\n", text)[:20]:
            found = dict(re.findall(rb"(?m)^([A-Za-z-]+):[ \t]*(.*)$", chunk))
            blocks.append(
                {k.decode("ascii", "replace").lower(): v.decode("utf-8", "replace").strip() for k, v in found.items()}
            )
    for block in blocks:
        if "action" in block or "status" in block:
            return block
    return {}


def _original_id(part: Message, message_ids) -> str:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, Message):
        ids = message_ids(inner.get("Message-ID"))
        return ids[0] if ids else ""
    text = part.get_payload(decode=True) or b""
    found = re.search(rb"(?mi)^Message-ID:[ \t]*(.*(?:\r?\n[ \t].*)*)", text)
    if not found:
        return ""
    ids = message_ids(found.group(1).decode("utf-8", "replace"))
    return ids[0] if ids else ""
