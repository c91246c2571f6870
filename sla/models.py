"""SLA policies, business-hours calendars, clocks, escalation actions and
promises (follow-ups).

A clock is one running target of one case (first response, next response,
resolution) with its ``due_at`` and ``warn_at`` computed in business hours;
the periodic scan finds what is due through partial indexes, so its cost
follows what is due, not what is open. A policy change is recorded as a
revision; clocks keep the revision they started with, so a change applies to
new clocks only.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from agents.models import Agent, validate_channel_kinds


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {value!r}") from None


def validate_country(value: str) -> None:
    if not value:
        return
    import holidays

    if value.upper() not in holidays.list_supported_countries():
        raise ValidationError(f"no holidays are known for country {value!r}")


class BusinessCalendar(models.Model):
    """Opening hours: a weekly schedule in a time zone, closed on holidays
    (from the ``holidays`` library by country and subdivision) and custom dates."""

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    holiday_country = models.CharField(
        max_length=8, blank=True, validators=[validate_country], help_text="ISO code, e.g. CZ or US; empty: none."
    )
    holiday_subdivision = models.CharField(max_length=16, blank=True, help_text="e.g. NY for New York; optional.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.holiday_subdivision and not self.holiday_country:
            raise ValidationError({"holiday_subdivision": "a subdivision needs a country"})
        if self.holiday_country:
            import holidays

            self.holiday_country = self.holiday_country.upper()
            subdivisions = holidays.list_supported_countries().get(self.holiday_country, [])
            if self.holiday_subdivision and self.holiday_subdivision not in subdivisions:
                raise ValidationError(
                    {"holiday_subdivision": f"{self.holiday_country} has no subdivision {self.holiday_subdivision!r}"}
                )


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """Open on a weekday from ``opens`` to ``closes`` (local time); a closing
    time not after the opening time runs past midnight into the next day."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="Not after 'opens': crosses midnight. Equal: open 24 hours.")

    class Meta:
        ordering = ["calendar", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_weekday_0_6")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class CustomClosedDate(models.Model):
    """A date the calendar is closed besides the library's holidays (a
    company holiday, a local event)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="closed_date_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class Target(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"


class SlaPolicy(models.Model):
    """Chosen for a new case by its conditions, the first match in ``order``.
    Empty conditions match anything. Targets of 0 minutes are off."""

    class OnReopen(models.TextChoices):
        RESTART = "restart", "Restart the resolution clock from zero"
        CONTINUE = "continue", "Continue the resolution clock where it stopped"
        NOTHING = "nothing", "Start no resolution clock"

    name = models.CharField(max_length=120, unique=True)
    order = models.PositiveIntegerField(default=0, help_text="Policies are tried in this order; the first match wins.")
    is_active = models.BooleanField(default=True)
    match_priorities = models.JSONField(default=list, blank=True, help_text="Case priorities 1–4; empty: any.")
    match_customer_tiers = models.JSONField(default=list, blank=True, help_text='e.g. ["vip"]; empty: any.')
    match_channel_kinds = models.JSONField(
        default=list, blank=True, validators=[validate_channel_kinds], help_text="Empty: any."
    )
    match_queues = models.ManyToManyField("routing.Queue", blank=True, related_name="+", help_text="Empty: any.")
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Count in these business hours; empty: around the clock (24/7).",
    )
    first_response_minutes = models.PositiveIntegerField(default=0)
    next_response_minutes = models.PositiveIntegerField(default=0)
    resolution_minutes = models.PositiveIntegerField(default=0)
    warning_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn at this share of a target.",
    )
    on_reopen = models.CharField(max_length=10, choices=OnReopen.choices, default=OnReopen.RESTART)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(warning_percent__gte=1, warning_percent__lte=99), name="sla_warning_percent_1_99"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def minutes_for(self, target: str) -> int:
        return {
            Target.FIRST_RESPONSE: self.first_response_minutes,
            Target.NEXT_RESPONSE: self.next_response_minutes,
            Target.RESOLUTION: self.resolution_minutes,
        }[target]


class Threshold(models.TextChoices):
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"


class EscalationAction(models.Model):
    class Kind(models.TextChoices):
        NOTIFY = "notify", "Notify supervisors (dashboard and email)"
        RAISE_PRIORITY = "raise_priority", "Raise the case's priority one level"
        MOVE_TO_QUEUE = "move_to_queue", "Move to an escalation queue"
        REASSIGN_TO_LEAD = "reassign_to_lead", "Reassign to a team lead"

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="actions")
    threshold = models.CharField(max_length=10, choices=Threshold.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    queue = models.ForeignKey(
        "routing.Queue", null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="For 'move'."
    )
    lead = models.ForeignKey(
        Agent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="For 'reassign'; empty: an agent who supervises the case's queue's team.",
    )

    class Meta:
        ordering = ["policy", "threshold", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="move_to_queue") | Q(queue__isnull=False), name="escalation_move_has_queue"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_threshold_display()}: {self.get_kind_display()}"


class PolicyRevision(models.Model):
    """A recorded state of a policy (targets, calendar, actions), written on
    every change; clocks point at the revision they started under."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_revision_unique")]

    def __str__(self) -> str:
        return f"{self.policy_id} rev {self.number}"


class Clock(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        MET = "met", "Met"
        BREACHED = "breached", "Breached"
        STOPPED = "stopped", "Stopped (case closed before the target applied)"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="sla_clocks")
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="clocks")
    revision = models.ForeignKey(PolicyRevision, on_delete=models.PROTECT, related_name="clocks")
    target = models.CharField(max_length=16, choices=Target.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    target_seconds = models.PositiveIntegerField()
    warning_seconds = models.PositiveIntegerField()
    consumed_seconds = models.FloatField(default=0, help_text="Business time used before the current run.")
    started_at = models.DateTimeField()
    running_since = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="Met or stopped.")

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="running") | Q(due_at__isnull=False, running_since__isnull=False),
                name="running_clock_has_due",
            ),
            # One live clock per case and target.
            models.UniqueConstraint(
                fields=["case", "target"], condition=Q(status__in=["running", "paused"]), name="one_live_clock"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="running"), name="clock_due_idx"),
            models.Index(
                fields=["warn_at"], condition=Q(status="running", warned_at__isnull=True), name="clock_warn_idx"
            ),
            models.Index(fields=["case", "target"], name="clock_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.target} clock of case {self.case_id}"


class Promise(models.Model):
    """An agent's follow-up ("I'll call you back tomorrow at 10")."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        KEPT = "kept", "Kept"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="promises")
    customer = models.ForeignKey("cases.Customer", on_delete=models.CASCADE, related_name="promises")
    agent = models.ForeignKey(Agent, null=True, on_delete=models.SET_NULL, related_name="promises")
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    channel_kind = models.CharField(max_length=16, help_text="How the follow-up will happen.")
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reminded_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)
    kept_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="open"), name="promise_due_idx"),
            models.Index(
                fields=["remind_at"], condition=Q(status="open", reminded_at__isnull=True), name="promise_remind_idx"
            ),
            models.Index(fields=["customer", "due_at"], name="promise_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"promise on case {self.case_id} due {self.due_at:%Y-%m-%d %H:%M}"
