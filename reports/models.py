"""Hourly aggregates of the contact-center figures, the hours they cover,
and the agents' presence log.

``HourlyFact`` is one row per hour, dimension, key and team: sums and counts
only (never averages), so any range, any grouping and any team scope is a
``SUM`` over rows. ``team_id`` is the team of the case's queue (0: none), so
a supervisor's scope is a filter on it. docs/reports.md says
what each column counts.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# Every summed column of HourlyFact, in the order the reports show them.
METRICS = (
    "cases_created",
    "reopened",
    "first_response_count",
    "first_response_seconds",
    "first_response_business_seconds",
    "next_response_count",
    "next_response_seconds",
    "next_response_business_seconds",
    "resolution_count",
    "resolution_seconds",
    "resolution_business_seconds",
    "handle_count",
    "handle_seconds",
    "sla_met",
    "sla_breached",
    "abandoned",
    "transfers",
    "offers",
    "offers_accepted",
    "offers_declined",
    "offers_missed",
    "busy_seconds",
    "available_seconds",
    "status_seconds",
    "surveys_sent",
    "surveys_answered",
    "score_sum",
    "score_1",
    "score_2",
    "score_3",
    "score_4",
    "score_5",
    "social_reaction_count",
    "social_reaction_seconds",
)


class Dimension(models.TextChoices):
    ALL = "all", "Everything"
    QUEUE = "queue", "Queue"
    AGENT = "agent", "Agent"
    CHANNEL_KIND = "channel_kind", "Channel kind"
    TIER = "tier", "Customer tier"
    SLA = "sla", "SLA policy and target"
    AGENT_STATUS = "agent_status", "Agent and presence status"


class HourlyFact(models.Model):
    hour = models.DateTimeField(help_text="Start of the hour (UTC).")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.CharField(max_length=80, blank=True, help_text="Queue, agent or policy id, channel kind, tier…")
    team_id = models.BigIntegerField(default=0, help_text="Team of the case's queue; 0: none.")
    # One float column per name in METRICS (counts are whole; seconds are not).
    locals().update({name: models.FloatField(default=0) for name in METRICS})

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "dimension", "key", "team_id"], name="hourly_fact_unique")
        ]
        indexes = [models.Index(fields=["dimension", "hour"], name="hourly_fact_dim_hour_idx")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.key} team {self.team_id} at {self.hour:%Y-%m-%d %H}:00"


class DailyFact(models.Model):
    """The sum of a UTC day's ``HourlyFact`` rows, rebuilt whenever one of
    its hours is computed: a month's report reads 30 rows per key, not 720."""

    day = models.DateField(help_text="The UTC day.")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.CharField(max_length=80, blank=True)
    team_id = models.BigIntegerField(default=0)
    locals().update({name: models.FloatField(default=0) for name in METRICS})

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "dimension", "key", "team_id"], name="daily_fact_unique")]
        indexes = [models.Index(fields=["dimension", "day"], name="daily_fact_dim_day_idx")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.key} team {self.team_id} on {self.day}"


class AggregatedDay(models.Model):
    """A UTC day whose ``DailyFact`` rows exist; its row lock serializes
    the rebuilds of the day."""

    day = models.DateField(unique=True)

    def __str__(self) -> str:
        return str(self.day)


class AggregatedHour(models.Model):
    """An hour the periodic task keeps facts for. ``computed_at`` after the
    hour settled means its facts are final; until then it is computed again."""

    hour = models.DateTimeField(unique=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    fact_rows = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        indexes = [models.Index(fields=["hour"], condition=Q(computed_at__isnull=True), name="agg_hour_pending_idx")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00"


class StatusSpan(models.Model):
    """The presence log: an agent was in ``status`` from ``started_at`` to
    ``ended_at`` (null while current). Written when the agents app says an
    agent changed (``AgentChanged``); see ``reports.presence``."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    status_name = models.CharField(max_length=64, blank=True, help_text="Empty: no status.")
    routable = models.BooleanField(default=False, help_text="The status enabled at least one channel kind.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agent", "started_at"]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(ended_at__isnull=True), name="one_open_status_span")
        ]
        indexes = [models.Index(fields=["started_at"], name="status_span_start_idx")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.status_name or '-'} from {self.started_at:%Y-%m-%d %H:%M}"
