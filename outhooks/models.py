"""Outbound event webhooks: an admin subscribes an external URL to events;
each event becomes one delivery per subscription, sent signed and retried."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Subscription(models.Model):
    url = models.URLField(max_length=500, help_text="Receives a signed POST per event.")
    events = models.JSONField(default=list, help_text='Event names, e.g. ["case.created", "sla.breached"].')
    secret = models.CharField(max_length=200, default=new_secret, help_text="Key of the HMAC-SHA256 signature.")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The start of the last answer.")
    error = models.TextField(blank=True, help_text="Why the last attempt failed.")
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outhook_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription.url} ({self.status})"
