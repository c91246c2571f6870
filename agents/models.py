"""Agents, teams, skills and proficiency, presence statuses, capacity per channel."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from config.channel_kinds import CHANNEL_KINDS, ChannelKind
from config.roles import Role  # noqa: F401  (named agents.models.Role by most modules)


def validate_channel_kinds(value: object) -> None:
    if not isinstance(value, list) or any(kind not in CHANNEL_KINDS for kind in value):
        raise ValidationError(f"a list of channel kinds from {', '.join(CHANNEL_KINDS)}")


class Skill(models.Model):
    class Kind(models.TextChoices):
        PRODUCT = "product", "Product or topic"
        LANGUAGE = "language", "Language"

    name = models.SlugField(max_length=64, unique=True, help_text="e.g. billing, lang-es")
    label = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRODUCT)
    language_code = models.CharField(
        max_length=16, blank=True, help_text="For language skills: the code customers' messages carry (es, pt-br)."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["language_code"], condition=~Q(language_code=""), name="skill_language_code_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="language") | Q(language_code=""), name="skill_language_code_only_for_languages"
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.name


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    supervisors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="supervised_teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PresenceStatus(models.Model):
    """A status an admin configures; it says which channel kinds it enables."""

    name = models.CharField(max_length=64, unique=True)
    channel_kinds = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_channel_kinds],
        help_text="Channel kinds an agent in this status is offered work on. Empty: not routable.",
    )
    is_default = models.BooleanField(default=False, help_text="The status agents start in (usually offline).")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "presence statuses"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_status")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_routable(self) -> bool:
        return bool(self.channel_kinds)

    def enables(self, kind: str) -> bool:
        return kind in self.channel_kinds


class Agent(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(max_length=120)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    status = models.ForeignKey(PresenceStatus, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status_since = models.DateTimeField(null=True, blank=True)
    # Presence: any live tab or device extends this; offers stop when it passes.
    present_until = models.DateTimeField(null=True, blank=True, db_index=True)
    capacity_total = models.PositiveSmallIntegerField(
        default=5, help_text="Units of work the agent holds at once across all channels."
    )
    idle_since = models.DateTimeField(null=True, blank=True, help_text="When the agent last had no open work.")
    last_routed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the router last handed this agent a case (offer or assignment)."
    )
    missed_offers = models.PositiveSmallIntegerField(default=0, help_text="Offers timed out in a row.")
    status_reason = models.CharField(
        max_length=200, blank=True, help_text="Why the status was set, if not by the agent."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    def is_present(self, now: datetime) -> bool:
        return self.present_until is not None and self.present_until > now


class AgentSkill(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agents")
    proficiency = models.PositiveSmallIntegerField(default=3, help_text="1 (basic) to 5 (expert)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "skill"], name="agent_skill_unique"),
            models.CheckConstraint(
                condition=Q(proficiency__gte=1, proficiency__lte=5), name="agent_skill_proficiency_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} · {self.skill} {self.proficiency}"


class AgentCapacity(models.Model):
    """How many units of work an agent holds at once on one channel kind."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="capacities")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    units = models.PositiveSmallIntegerField(default=1)

    class Meta:
        verbose_name_plural = "agent capacities"
        constraints = [
            models.UniqueConstraint(fields=["agent", "channel_kind"], name="agent_capacity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} · {self.channel_kind} {self.units}"
