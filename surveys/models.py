"""Satisfaction surveys: one per resolution of a case, sent on the case's
own channel, answered once (by the link, a reply with a number, or the web
chat widget). Reports read these rows."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from config.channel_kinds import ChannelKind


class Survey(models.Model):
    class Via(models.TextChoices):
        LINK = "link", "The survey page"
        REPLY = "reply", "A reply on the channel"
        WIDGET = "widget", "The web chat widget"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="surveys")
    customer = models.ForeignKey("cases.Customer", on_delete=models.CASCADE, related_name="surveys")
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="surveys")
    queue = models.ForeignKey("routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="surveys")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    token = models.CharField(max_length=64, unique=True, help_text="The secret in the survey link.")
    resolved_at = models.DateTimeField(help_text="The resolution this survey asks about (one survey each).")
    message = models.OneToOneField(
        "cases.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey",
        help_text="The outbound message that carried it (none on a live web chat: the widget shows it).",
    )
    sent_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (poor) to 5 (excellent).")
    comment = models.TextField(blank=True)
    answered_via = models.CharField(max_length=8, choices=Via.choices, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5), name="survey_score_1_5"
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, score__isnull=True)
                | Q(answered_at__isnull=False, score__isnull=False),
                name="survey_answer_has_score",
            ),
            models.UniqueConstraint(fields=["case", "resolved_at"], name="one_survey_per_resolution"),
        ]
        indexes = [
            models.Index(fields=["sent_at"], name="survey_sent_idx"),
            models.Index(fields=["answered_at"], name="survey_answered_idx"),
        ]

    def __str__(self) -> str:
        return f"survey {self.pk} on case {self.case_id}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None
