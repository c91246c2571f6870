"""Phone calls: one ``CallSession`` per channel and call id, tied to its case.

The table keeps the name it had when calls lived in ``connectors``
(``connectors_callsession``): the move changed no data."""

from __future__ import annotations

from django.db import models


class CallSession(models.Model):
    class State(models.TextChoices):
        RINGING = "ringing", "Ringing"
        ANSWERED = "answered", "Answered"
        HELD = "held", "On hold"
        ENDED = "ended", "Ended"
        MISSED = "missed", "Missed (call back)"
        VOICEMAIL = "voicemail", "Voicemail (call back)"

    channel = models.ForeignKey("connectors.Channel", on_delete=models.CASCADE, related_name="calls")
    call_id = models.CharField(max_length=128)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="calls")
    message = models.ForeignKey("cases.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    direction = models.CharField(max_length=16, default="inbound")
    from_number = models.CharField(max_length=64, blank=True)
    to_number = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RINGING)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=2000, blank=True)
    transcription = models.TextField(blank=True)
    timeline = models.JSONField(default=list, blank=True, help_text="[{event, at, ...}] as the provider reported it.")

    class Meta:
        db_table = "connectors_callsession"
        constraints = [models.UniqueConstraint(fields=["channel", "call_id"], name="call_unique_per_channel")]

    def __str__(self) -> str:
        return f"call {self.call_id} ({self.state})"
