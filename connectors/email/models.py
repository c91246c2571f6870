"""What email keeps beside the case's messages (imported by connectors.models).

``EmailDetail``: per inbound event, the threading headers and the quoted
history cut from the new text. ``EmailAttachment``: files of a mail, stored
under MEDIA_ROOT, or only described when over the size limits.
``MailboxState``: how far the IMAP poller has read a mailbox folder.
"""

from __future__ import annotations

from django.db import models


class EmailDetail(models.Model):
    event = models.OneToOneField("connectors.InboundEvent", on_delete=models.CASCADE, related_name="email_detail")
    message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    quoted_text = models.TextField(blank=True, help_text="The history the sender's client quoted below the new text.")
    automated = models.CharField(max_length=255, blank=True, help_text="Why this is an auto-reply; empty for a person.")
    defects = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"email {self.message_id or self.event_id}"


def attachment_path(instance: EmailAttachment, filename: str) -> str:
    return f"email/{instance.event.channel_id}/{instance.event_id}/{instance.index}-{filename}"


class EmailAttachment(models.Model):
    event = models.ForeignKey("connectors.InboundEvent", on_delete=models.CASCADE, related_name="email_attachments")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    content_id = models.CharField(max_length=255, blank=True, help_text="For inline images: the cid: HTML refers to.")
    inline = models.BooleanField(default=False)
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=attachment_path, max_length=400, blank=True)
    skipped = models.CharField(max_length=200, blank=True, help_text="Why the file was not stored (size limits).")

    class Meta:
        ordering = ["event", "index"]
        constraints = [models.UniqueConstraint(fields=["event", "index"], name="email_attachment_index_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"


class MailboxState(models.Model):
    channel = models.ForeignKey("connectors.Channel", on_delete=models.CASCADE, related_name="mailbox_states")
    folder = models.CharField(max_length=200)
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "folder"], name="mailbox_state_unique")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.folder} up to uid {self.last_uid}"
