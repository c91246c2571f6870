"""Queues, routing rules and offers.

The database enforces the routing promises it can: at most one pending offer
per case (a conditional unique index), one assignee per case (a column), and
offers indexed by their due time so timeouts are found without scanning.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from agents.models import Agent, Skill, Team, validate_channel_kinds
from connectors.kinds import ChannelKind


class AgentSelection(models.TextChoices):
    MOST_AVAILABLE = "most_available", "Most available (most free capacity)"
    LEAST_ACTIVE = "least_active", "Least active (fewest open cases)"
    LONGEST_IDLE = "longest_idle", "Longest idle"


class Queue(models.Model):
    name = models.CharField(max_length=120, unique=True)
    channel_kinds = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_channel_kinds],
        help_text="Channel kinds this queue takes; empty takes any.",
    )
    priority = models.PositiveSmallIntegerField(
        default=3, help_text="1 (most urgent) to 5; served first across queues."
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="queues")
    agents = models.ManyToManyField(Agent, blank=True, related_name="queues", help_text="Members besides the team's.")
    offer_timeout_seconds = models.PositiveIntegerField(default=60)
    auto_accept = models.BooleanField(
        default=False, help_text="Assign at once instead of offering (typical for email)."
    )
    agent_selection = models.CharField(
        max_length=20, choices=AgentSelection.choices, default=AgentSelection.MOST_AVAILABLE
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="queue_priority_1_5"),
            models.CheckConstraint(condition=Q(offer_timeout_seconds__gte=5), name="queue_offer_timeout_min_5s"),
        ]

    def __str__(self) -> str:
        return self.name


class QueueSkill(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="required_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "skill"], name="queue_skill_unique"),
            models.CheckConstraint(
                condition=Q(min_proficiency__gte=1, min_proficiency__lte=5), name="queue_skill_min_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill_id}>={self.min_proficiency} for queue {self.queue_id}"


class RoutingRule(models.Model):
    """Conditions on an incoming message → queue, priority and required skills.
    Rules are tried in ``order``; the first whose conditions all hold wins."""

    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=100, db_index=True)
    is_active = models.BooleanField(default=True)
    # Conditions (empty means "any").
    match_channel_kinds = models.JSONField(default=list, blank=True, validators=[validate_channel_kinds])
    match_channel = models.ForeignKey(
        "connectors.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    match_keywords = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; any one found in the text (case-insensitive) matches."
    )
    match_language = models.CharField(max_length=16, blank=True)
    match_customer_tier = models.CharField(max_length=16, blank=True)
    # Actions.
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="rules")
    set_priority = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (urgent) to 4 (low)")
    add_language_skill = models.BooleanField(
        default=True, help_text="Require the language skill matching the message's language, where one exists."
    )

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(set_priority__isnull=True) | Q(set_priority__gte=1, set_priority__lte=4),
                name="rule_priority_1_4",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def keywords(self) -> list[str]:
        return [k.strip().lower() for k in self.match_keywords.split(",") if k.strip()]


class RoutingRuleSkill(models.Model):
    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "skill"], name="rule_skill_unique"),
            models.CheckConstraint(
                condition=Q(min_proficiency__gte=1, min_proficiency__lte=5), name="rule_skill_min_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill_id}>={self.min_proficiency} for rule {self.rule_id}"


class Offer(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        TIMED_OUT = "timed_out", "Timed out"
        CANCELLED = "cancelled", "Cancelled"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="offers")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(status="pending"), name="one_pending_offer_per_case"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="offer_pending_due_idx"),
            models.Index(fields=["agent", "status"], name="offer_agent_status_idx"),
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} of case {self.case_id} to {self.agent_id} ({self.status})"
