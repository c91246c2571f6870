"""Every configuration change — who, when, what changed — kept for admins."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ConfigChange(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    via = models.CharField(max_length=80, blank=True, help_text="The request's method and path; empty: not a request.")
    model = models.CharField(max_length=80, help_text='e.g. "sla.slapolicy"')
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=8, choices=Action.choices)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}; secrets are not shown.")

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["model", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.model} {self.object_repr}"
