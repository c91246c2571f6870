"""WhatsApp Cloud API webhooks (``object: whatsapp_business_account``):
``entry[].changes[].value`` with ``messages``, ``contacts`` and ``statuses``."""

from __future__ import annotations

from collections.abc import Iterator

from cases.identities import InvalidIdentity, normalize_identity
from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from config.channel_kinds import ChannelKind
from connectors.providers.meta_fields import (
    MEDIA_TYPES,
    PROVIDER,
    STATUSES,
    Skip,
    as_dict,
    as_id,
    as_list,
    as_text,
    as_time,
    ignored,
)


def whatsapp_entry(channel, entry: dict) -> Iterator[NormalizedMessage]:
    for change in as_list(entry.get("changes")):
        try:
            change = as_dict(change, "change")
            if change.get("field") != "messages":
                yield ignored(channel, "", f"WhatsApp field {as_text(change.get('field'), 60)!r} is not handled")
                continue
            value = as_dict(change.get("value"), "change.value")
            metadata = as_dict(value.get("metadata"), "value.metadata")
            number_id = as_id(metadata.get("phone_number_id"), "metadata.phone_number_id")
        except Skip as exc:
            yield ignored(channel, "", str(exc))
            continue
        names = {}
        for contact in as_list(value.get("contacts")):
            if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
                names[as_text(contact.get("wa_id"), 64)] = as_text(contact["profile"].get("name"), 200)
        for message in as_list(value.get("messages")):
            try:
                yield _whatsapp_message(channel, number_id, as_dict(message, "message"), names)
            except Skip as exc:
                yield ignored(channel, "", str(exc))
        for status in as_list(value.get("statuses")):
            try:
                yield _whatsapp_status(channel, as_dict(status, "status"))
            except Skip as exc:
                yield ignored(channel, "", str(exc))


def _whatsapp_message(channel, number_id: str, message: dict, names: dict) -> NormalizedMessage:
    message_id = as_id(message.get("id"), "message.id")
    wa_id = as_id(message.get("from"), "message.from")
    try:
        normalize_identity("phone", f"+{wa_id.lstrip('+')}")
    except InvalidIdentity:
        raise Skip(f"message.from {wa_id!r} is not a phone number") from None
    kind = as_text(message.get("type"), 40)
    body = message.get(kind) if isinstance(message.get(kind), (dict, list)) else {}
    text, attachments = "", ()
    if kind == "text":
        text = as_text(as_dict(body, "text").get("body"))
    elif kind in MEDIA_TYPES:
        media = as_dict(body, kind)
        media_id = as_id(media.get("id"), f"{kind}.id")
        mime = as_text(media.get("mime_type"), 100) or "application/octet-stream"
        name = as_text(media.get("filename"), 200) or f"{kind}-{media_id}"
        attachments = (Attachment(name=name, content_type=mime, url=f"meta-media:{media_id}"),)
        text = as_text(media.get("caption")) or f"[{kind}]"
    elif kind == "location":
        where = as_dict(body, "location")
        parts = [as_text(where.get(k), 300) for k in ("name", "address")]
        coordinates = f"{as_text(where.get('latitude'), 30)},{as_text(where.get('longitude'), 30)}"
        text = "\n".join(p for p in [*parts, f"Location: {coordinates}", as_text(where.get("url"), 500)] if p)
    elif kind == "contacts":
        lines = []
        for card in as_list(body)[:20]:
            if not isinstance(card, dict):
                continue
            name = card.get("name") if isinstance(card.get("name"), dict) else {}
            phones = [as_text(p.get("phone"), 40) for p in as_list(card.get("phones")) if isinstance(p, dict)]
            lines.append(" ".join([as_text(name.get("formatted_name"), 200), *phones]).strip())
        text = "Shared contact: " + "; ".join(line for line in lines if line)
    elif kind == "interactive":
        reply = as_dict(body, "interactive")
        chosen = reply.get(as_text(reply.get("type"), 40))
        chosen = as_dict(chosen, "interactive reply")
        text = as_text(chosen.get("title"), 2000) or as_text(chosen.get("id"), 200)
    elif kind == "button":
        text = as_text(as_dict(body, "button").get("text"), 2000)
    elif kind == "reaction":
        reaction = as_dict(body, "reaction")
        emoji = as_text(reaction.get("emoji"), 40)
        if not emoji:
            return ignored(channel, message_id, "a reaction was removed")
        text = f"Reacted {emoji}"
    else:
        return ignored(channel, message_id, f"WhatsApp message type {kind!r} is not handled")
    if not text and not attachments:
        raise Skip(f"WhatsApp {kind} message {message_id} has no content")
    return NormalizedMessage(
        kind=MessageKind.MESSAGE,
        channel_kind=ChannelKind.WHATSAPP,
        provider=PROVIDER,
        external_id=message_id,
        thread_key=f"whatsapp:{number_id}:{wa_id}",
        sender=Sender(identity_kind="phone", address=f"+{wa_id.lstrip('+')}", display_name=names.get(wa_id, "")),
        text=text,
        attachments=attachments,
        sent_at=as_time(message.get("timestamp"), millis=False),
        extra={"whatsapp_type": kind},
    )


def _whatsapp_status(channel, status: dict) -> NormalizedMessage:
    message_id = as_id(status.get("id"), "status.id")
    state = status.get("status")
    if state not in STATUSES:
        return ignored(channel, message_id, f"WhatsApp status {as_text(state, 40)!r} is not handled")
    errors = [e for e in as_list(status.get("errors")) if isinstance(e, dict)]
    error = ""
    if errors:
        details = errors[0].get("error_data") if isinstance(errors[0].get("error_data"), dict) else {}
        error = " — ".join(
            p
            for p in (
                as_text(errors[0].get("code"), 20),
                as_text(errors[0].get("title"), 300),
                as_text(errors[0].get("message"), 500),
                as_text(details.get("details"), 500),
            )
            if p
        )
    return NormalizedMessage(
        kind=MessageKind.DELIVERY_STATUS,
        channel_kind=ChannelKind.WHATSAPP,
        provider=PROVIDER,
        external_id=message_id,
        delivery_status=state,
        delivery_error=error,
    )
