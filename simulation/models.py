"""Simulations run from the admin, kept with their inputs and report."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SimulationRun(models.Model):
    name = models.CharField(max_length=200, blank=True)
    scenario = models.TextField(
        help_text="Scenario YAML: arrivals, handle_time, patience, reply_delay, offers, shifts, what_if "
        "(see docs/simulation/example-scenario.yaml)."
    )
    replay_date = models.DateField(
        null=True, blank=True, help_text="Replay the cases created on this day (when the scenario has no arrivals)."
    )
    config = models.TextField(
        blank=True, help_text="Configuration A as export_config YAML; empty: today's configuration."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cases = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0, help_text="Wall time of the simulations.")
    summary = models.TextField(blank=True, help_text="The comparison as text.")
    report_html = models.TextField(blank=True, help_text="The comparison as HTML with charts (generated, escaped).")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or f"simulation {self.pk}"
