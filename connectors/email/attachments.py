"""Attachments and inline images of inbound mail, stored under MEDIA_ROOT
(Django's default storage) with limits per file and per message; a file
over a limit is described on the message (name, type, size) but not kept."""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.core.files.base import ContentFile

from cases.normalized import Attachment
from connectors.email.models import EmailAttachment
from connectors.email.parse import ParsedEmail

MAX_ATTACHMENTS = 50


def store_attachments(*, event, parsed: ParsedEmail) -> list[EmailAttachment]:
    """Store the files of one mail; a replay stores them again, once."""
    for old in EmailAttachment.objects.filter(event=event):
        if old.file:
            old.file.delete(save=False)
        old.delete()
    max_one = settings.SWITCHBOARD["EMAIL_MAX_ATTACHMENT_BYTES"]
    max_total = settings.SWITCHBOARD["EMAIL_MAX_TOTAL_ATTACHMENT_BYTES"]
    total = 0
    rows = []
    for index, item in enumerate(parsed.attachments[:MAX_ATTACHMENTS]):
        size = len(item.data)
        row = EmailAttachment(
            event=event,
            index=index,
            name=item.filename[:200] or f"attachment-{index + 1}",
            content_type=item.content_type[:100],
            size=size,
            content_id=item.content_id[:255],
            inline=item.inline,
            sha256=hashlib.sha256(item.data).hexdigest(),
        )
        if size > max_one:
            row.skipped = f"over the limit of {max_one} bytes per file"
        elif total + size > max_total:
            row.skipped = f"over the limit of {max_total} bytes per message"
        else:
            row.file.save(_safe_name(row.name), ContentFile(item.data), save=False)
            total += size
        row.save()
        rows.append(row)
    return rows


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\-]+", "_", name, flags=re.ASCII).strip("._") or "file"
    return cleaned[-100:]


def described(rows: list[EmailAttachment]) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(name=row.name, content_type=row.content_type, size=row.size, url=row.file.url if row.file else "")
        for row in rows
    )


def link_inline_images(html: str, rows: list[EmailAttachment]) -> str:
    """Point the HTML's cid: references at the stored files (sanitized later)."""
    urls = {row.content_id: row.file.url for row in rows if row.content_id and row.file}
    if not urls or "cid:" not in html:
        return html

    def swap(found: re.Match) -> str:
        url = urls.get(found.group(2))
        return f"{found.group(1)}{url}" if url else found.group(0)

    return re.sub(r"""(src\s*=\s*["']?)cid:([^"'\s>]+)""", swap, html, flags=re.IGNORECASE)
