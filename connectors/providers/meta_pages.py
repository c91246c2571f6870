"""Messenger and Instagram messaging (``entry[].messaging[]``) and Facebook
Page feed comments (``entry[].changes[]``, field ``feed``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from config.channel_kinds import ChannelKind
from connectors.providers.meta_fields import (
    MESSENGER_ATTACHMENT_TYPES,
    PROVIDER,
    Skip,
    as_dict,
    as_id,
    as_list,
    as_text,
    as_time,
    ignored,
)


def page_entry(channel, entry: dict, *, instagram: bool) -> Iterator[NormalizedMessage]:
    owner = as_id(entry.get("id"), "entry.id")
    for event in as_list(entry.get("messaging")):
        try:
            yield from _messaging(channel, owner, as_dict(event, "messaging event"), instagram=instagram)
        except Skip as exc:
            yield ignored(channel, "", str(exc))
    for change in as_list(entry.get("changes")):
        try:
            yield _change(channel, owner, as_dict(change, "change"), instagram=instagram)
        except Skip as exc:
            yield ignored(channel, "", str(exc))


def _messaging(channel, owner: str, event: dict, *, instagram: bool) -> Iterator[NormalizedMessage]:
    kind = ChannelKind.INSTAGRAM if instagram else ChannelKind.MESSENGER
    sender = as_id(as_dict(event.get("sender"), "sender").get("id"), "sender.id")
    sent_at = as_time(event.get("timestamp"), millis=True)
    thread = f"{kind}:{owner}:{sender}"
    if isinstance(event.get("message"), dict):
        message = event["message"]
        mid = as_id(message.get("mid"), "message.mid")
        if message.get("is_echo"):
            yield ignored(channel, mid, "an echo of a message the page sent")
            return
        attachments, lines = [], []
        for item in as_list(message.get("attachments"))[:20]:
            if not isinstance(item, dict):
                continue
            item_type = as_text(item.get("type"), 40)
            payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
            url = as_text(payload.get("url"), 2000)
            if item_type in MESSENGER_ATTACHMENT_TYPES and url:
                content_type = MESSENGER_ATTACHMENT_TYPES[item_type] or "application/octet-stream"
                attachments.append(
                    Attachment(name=f"{item_type}-{len(attachments) + 1}", content_type=content_type, url=url)
                )
            elif item_type == "location" and isinstance(payload.get("coordinates"), dict):
                c = payload["coordinates"]
                lines.append(f"Location: {as_text(c.get('lat'), 30)},{as_text(c.get('long'), 30)}")
            elif url:
                lines.append(url)
        text = as_text(message.get("text")) or "\n".join(lines) or ("[attachment]" if attachments else "")
        if not text:
            yield ignored(channel, mid, "a message with nothing to show")
            return
        yield _inbound(kind, mid, thread, sender, text, tuple(attachments), sent_at)
    elif isinstance(event.get("postback"), dict):
        postback = event["postback"]
        mid = postback.get("mid") or f"postback-{sender}-{as_text(event.get('timestamp'), 20)}"
        text = as_text(postback.get("title"), 2000) or as_text(postback.get("payload"), 2000)
        if not text:
            raise Skip("a postback with no title nor payload")
        yield _inbound(kind, as_id(mid, "postback.mid"), thread, sender, text, (), sent_at)
    elif isinstance(event.get("delivery"), dict):
        for mid in as_list(event["delivery"].get("mids"))[:200]:
            yield _status(kind, as_id(mid, "delivery.mids[]"), "delivered")
    elif isinstance(event.get("read"), dict):
        read = event["read"]
        if read.get("mid"):  # Instagram names the message read
            yield _status(kind, as_id(read["mid"], "read.mid"), "read")
            return
        watermark = as_time(read.get("watermark"), millis=True)
        if watermark is None:
            raise Skip("a read receipt with no watermark")
        for mid in _replies_sent_before(channel=channel, thread_key=thread, before=watermark):
            yield _status(kind, mid, "read")
    else:
        keys = sorted(k for k in event if k not in {"sender", "recipient", "timestamp"})
        yield ignored(channel, "", f"{kind} event {', '.join(keys)[:100]!r} is not handled")


def _inbound(kind, mid, thread, sender, text, attachments, sent_at) -> NormalizedMessage:
    identity = "instagram" if kind == ChannelKind.INSTAGRAM else "messenger"
    return NormalizedMessage(
        kind=MessageKind.MESSAGE,
        channel_kind=kind,
        provider=PROVIDER,
        external_id=mid,
        thread_key=thread,
        sender=Sender(identity_kind=identity, address=sender),
        text=text,
        attachments=attachments,
        sent_at=sent_at,
    )


def _status(kind, mid: str, state: str) -> NormalizedMessage:
    return NormalizedMessage(
        kind=MessageKind.DELIVERY_STATUS,
        channel_kind=kind,
        provider=PROVIDER,
        external_id=mid,
        delivery_status=state,
    )


def _change(channel, owner: str, change: dict, *, instagram: bool) -> NormalizedMessage:
    value = change.get("value") if isinstance(change.get("value"), dict) else {}
    if instagram or change.get("field") != "feed" or value.get("item") != "comment":
        what = f"{as_text(change.get('field'), 40)}/{as_text(value.get('item'), 40)}"
        return ignored(channel, "", f"change {what!r} is not handled")
    comment_id = as_id(value.get("comment_id"), "value.comment_id")
    if value.get("verb") != "add":
        return ignored(channel, comment_id, f"comment verb {as_text(value.get('verb'), 20)!r} is not handled")
    author = as_dict(value.get("from"), "value.from")
    author_id = as_id(author.get("id"), "value.from.id")
    if author_id == owner:
        return ignored(channel, comment_id, "a comment by the page itself")
    post_id = as_id(value.get("post_id"), "value.post_id")
    text = as_text(value.get("message"))
    photo = as_text(value.get("photo"), 2000)
    if not text and not photo:
        return ignored(channel, comment_id, "a comment with no text")
    return NormalizedMessage(
        kind=MessageKind.MESSAGE,
        channel_kind=ChannelKind.SOCIAL,
        provider=PROVIDER,
        external_id=comment_id,
        thread_key=f"fbpost:{post_id}",
        sender=Sender(identity_kind="facebook", address=author_id, display_name=as_text(author.get("name"), 200)),
        text=text or "[photo]",
        attachments=(Attachment(name="photo", content_type="image/*", url=photo),) if photo else (),
        sent_at=as_time(value.get("created_time"), millis=False),
        extra={"post_id": post_id, "parent_id": as_text(value.get("parent_id"), 200)},
    )


def _replies_sent_before(*, channel, thread_key: str, before: datetime) -> list[str]:
    """Messenger reads carry a watermark, not ids: our replies on the thread sent before it."""
    from cases.models import Message

    return list(
        Message.objects.filter(
            channel=channel,
            case__thread_key=thread_key,
            direction=Message.Direction.OUTBOUND,
            delivery_status__in=[Message.Delivery.SENT, Message.Delivery.DELIVERED],
            created_at__lte=before,
        )
        .exclude(provider_message_id="")
        .values_list("provider_message_id", flat=True)[:500]
    )
