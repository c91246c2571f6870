"""What the live dashboards keep of their own: the escalation feed, the
supervisors' audit trail for agent and queue changes, and per-minute samples
of queue load for the wallboard chart."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Escalation(models.Model):
    """One item of the supervisors' escalation feed (from
    ``cases.events.EscalationRaised`` and ``routing.events.CaseEscalated``)."""

    kind = models.CharField(max_length=32)
    case_id = models.BigIntegerField(null=True, blank=True)
    queue = models.ForeignKey("routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["-created_at"], name="escalation_recent_idx")]

    def __str__(self) -> str:
        return f"{self.kind} (case {self.case_id})"


class SupervisorAction(models.Model):
    """Audit record of a supervisor's change to an agent or a queue (case
    actions are on the case timeline)."""

    class Kind(models.TextChoices):
        QUEUE_PRIORITY = "queue_priority", "Queue priority changed"
        CHANNEL_PRIORITY = "channel_priority", "Channel kind priority changed"
        AGENT_CAPACITY = "agent_capacity", "Agent capacity changed"
        AGENT_STATUS = "agent_status", "Agent status changed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    queue = models.ForeignKey("routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"


class QueueLoadSample(models.Model):
    """Cases waiting and held in a queue at one minute (the chart's history).
    Any web process may sample; the unique minute keeps one row."""

    queue = models.ForeignKey("routing.Queue", on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    waiting = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["queue", "minute"], name="queue_load_sample_minute_unique")]
        indexes = [models.Index(fields=["minute"], name="queue_load_sample_minute_idx")]

    def __str__(self) -> str:
        return f"queue {self.queue_id} at {self.minute:%H:%M}: {self.waiting} waiting"
