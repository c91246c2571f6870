"""Queues, routing rules and offers.

The database enforces the routing promises it can: at most one pending offer
per case (a conditional unique index), one assignee per case (a column), and
offers indexed by their due time so timeouts are found without scanning.
"""

from __future__ import annotations

import json

from django.db import models
from django.db.models import Q

from agents.models import Agent, PresenceStatus, Skill, Team, validate_channel_kinds
from config.channel_kinds import ChannelKind


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
        default=False, help_text="Assign at once instead of offering, for every case of this queue."
    )
    auto_accept_channel_kinds = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_channel_kinds],
        help_text="Assign at once instead of offering, for cases on these channel kinds (typically email).",
    )
    agent_selection = models.CharField(
        max_length=20, choices=AgentSelection.choices, default=AgentSelection.MOST_AVAILABLE
    )
    case_units = models.PositiveSmallIntegerField(
        default=1, help_text="Capacity units each case takes (a phone call may take an agent's whole capacity)."
    )
    continuity_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Offer a returning customer's case to the agent who served them within this many minutes, "
        "when that agent may take it. 0: off.",
    )
    first_reply_minutes = models.PositiveIntegerField(
        default=0, help_text="Response timer: an assigned case still without a first reply after this long. 0: off."
    )
    first_reply_action = models.CharField(
        max_length=16,
        choices=[("escalate", "Escalate to supervisors"), ("requeue", "Return to the queue")],
        default="escalate",
    )
    wrap_up_seconds = models.PositiveIntegerField(
        default=0, help_text="After resolving, the case holds the agent's capacity this long (wrap-up). 0: none."
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="queues",
        help_text="Opening hours: outside them no case of this queue is offered. Empty: always open.",
    )
    is_active = models.BooleanField(default=True)
    surveys_enabled = models.BooleanField(
        default=True, help_text="Send a satisfaction survey when a case of this queue is resolved."
    )

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="queue_priority_1_5"),
            models.CheckConstraint(condition=Q(offer_timeout_seconds__gte=5), name="queue_offer_timeout_min_5s"),
            models.CheckConstraint(condition=Q(case_units__gte=1), name="queue_case_units_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class OverflowStep(models.Model):
    """After a case has waited ``after_seconds``, widen who may take it: relax
    optional skills, then overflow queues or teams, like rings of a bullseye."""

    class Action(models.TextChoices):
        LOWER_PROFICIENCY = "lower_proficiency", "Lower the minimum proficiency of optional skills"
        DROP_OPTIONAL_SKILLS = "drop_optional_skills", "Drop optional skills"
        ADD_QUEUE = "add_queue", "Also offer to another queue's agents"
        ADD_TEAM = "add_team", "Also offer to a team"
        ANYONE = "anyone", "Offer to any agent with the skills"

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="overflow_steps")
    after_seconds = models.PositiveIntegerField(help_text="Waiting time, since the case was first queued.")
    action = models.CharField(max_length=24, choices=Action.choices)
    amount = models.PositiveSmallIntegerField(default=1, help_text="For lowering: levels to lower by.")
    target_queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    target_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["queue", "after_seconds", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="add_queue") | Q(target_queue__isnull=False), name="overflow_add_queue_has_target"
            ),
            models.CheckConstraint(
                condition=~Q(action="add_team") | Q(target_team__isnull=False), name="overflow_add_team_has_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue} after {self.after_seconds} s: {self.get_action_display()}"


class RoutingSettings(models.Model):
    """Engine-wide routing settings: one row (pk 1), edited in the admin."""

    aging_seconds = models.PositiveIntegerField(
        default=300, help_text="Waiting this long counts as one priority level (so low priority never starves)."
    )
    missed_offers_limit = models.PositiveSmallIntegerField(
        default=3, help_text="Missed offers in a row after which the agent is set away. 0: never."
    )
    away_status = models.ForeignKey(
        PresenceStatus,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The status agents are set to after too many missed offers.",
    )
    fair_cap_assignments = models.PositiveSmallIntegerField(
        default=0, help_text="At most this many new cases per agent per window, on top of capacity. 0: off."
    )
    fair_cap_window_minutes = models.PositiveIntegerField(default=60)

    class Meta:
        verbose_name = verbose_name_plural = "routing settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="routing_settings_single_row")]

    def __str__(self) -> str:
        return "Routing settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> RoutingSettings:
        found = cls.objects.filter(pk=1).select_related("away_status").first()
        return found if found is not None else cls(pk=1)


class DeclineReason(models.Model):
    """The reasons an agent may give for declining an offer."""

    label = models.CharField(max_length=120, unique=True)
    order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "label"]

    def __str__(self) -> str:
        return self.label


class QueueSkill(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="required_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(default=1)
    optional = models.BooleanField(default=False, help_text="Overflow steps may relax or drop it.")

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
    may_interrupt = models.BooleanField(
        default=False, help_text="Matching cases may go to an agent with no room left (an urgent call)."
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
    optional = models.BooleanField(default=False, help_text="Overflow steps may relax or drop it.")

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
    # Looked up by offer_agent_status_idx (agent, status): no index of its own.
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="offers", db_index=False)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=200, blank=True)
    units = models.PositiveSmallIntegerField(default=1, help_text="The case's units, held while pending.")
    may_interrupt = models.BooleanField(default=False)

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


class Explanation(models.Model):
    """Why an offer went to its agent: the reasoning the router noted while
    deciding (``routing.core.explain``), kept for
    ``SWITCHBOARD_EXPLANATION_DAYS``.

    Written in the same statement as its offer, from the offer's new id, so
    it cannot name a missing offer; deleting an offer deletes it (Django's
    cascade). The database does not check the reference on every insert
    (7 µs a row, a fifth of what keeping explanations cost the router's
    database). ``created_at`` is indexed by block range on PostgreSQL (rows
    arrive in time order; the purge reads them by age), by B-tree elsewhere:
    migration 0008.

    Kept as compact JSON text, not ``jsonb``: it is written for every offer
    and read when someone asks why, never queried inside, and text costs
    the database no conversion and about half the bytes."""

    offer = models.OneToOneField(
        Offer, primary_key=True, on_delete=models.CASCADE, related_name="explanation", db_constraint=False
    )
    created_at = models.DateTimeField()
    text = models.TextField(db_column="data", help_text="The reasoning as JSON (routing.core.explain).")

    def __str__(self) -> str:
        return f"why offer {self.offer_id}"

    @property
    def data(self) -> dict:
        return json.loads(self.text)

    @staticmethod
    def encode(data: dict) -> str:
        return json.dumps(data, separators=(",", ":"))
