"""Configured channels and the raw inbound events they receive.

An ``InboundEvent`` is the raw request, committed before anything else is
done with it; a (channel, dedupe key) unique index makes a provider's
redelivery harmless.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from config.channel_kinds import ChannelKind
from connectors.providers import provider_choices


def new_channel_secret() -> str:
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    """A configured endpoint: a support mailbox, a chat widget, a number, a page."""

    key = models.SlugField(max_length=64, unique=True, help_text="Used in the webhook URL: /hooks/<key>/")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    provider = models.CharField(
        max_length=32, choices=provider_choices, help_text="The provider module that speaks this channel's format."
    )
    secret = models.CharField(max_length=200, default=new_channel_secret, help_text="Signs and verifies webhooks.")
    config = models.JSONField(default=dict, blank=True)
    default_queue = models.ForeignKey(
        "routing.Queue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where cases go when no routing rule matches.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class InboundEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received, not yet processed"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (nothing to do)"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="inbound_events")
    received_at = models.DateTimeField()
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey("cases.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "dedupe_key"], condition=~Q(dedupe_key=""), name="inbound_event_dedupe"
            ),
        ]
        indexes = [
            models.Index(fields=["received_at"], condition=Q(status="received"), name="inbound_unprocessed_idx"),
            models.Index(fields=["status", "received_at"], name="inbound_status_idx"),
        ]

    def __str__(self) -> str:
        return f"inbound {self.pk} on {self.channel_id} ({self.status})"


# Email's own tables live beside its code; imported here so Django finds them.
from connectors.email.models import EmailAttachment, EmailDetail, MailboxState  # noqa: E402,F401
from connectors.outbound import DeliveryAttempt  # noqa: E402,F401
