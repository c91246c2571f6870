"""What was erased or purged, and when — never the erased data itself."""

from __future__ import annotations

from django.db import models


class ErasureRecord(models.Model):
    class Kind(models.TextChoices):
        ERASURE = "erasure", "A customer's data erased on request"
        RETENTION = "retention", "Old resolved and closed cases purged"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer_id = models.BigIntegerField(null=True, blank=True, help_text="The erased customer (no link: a number).")
    at = models.DateTimeField(db_index=True)
    requested_by = models.CharField(max_length=150, blank=True, help_text="Who asked (a login or 'cli').")
    counts = models.JSONField(default=dict, help_text="How many rows and files of each kind; no content.")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} of customer {self.customer_id}" if self.customer_id else f"{self.kind} at {self.at}"
