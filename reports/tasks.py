"""Celery entry points of the reports; each only calls a service."""

from celery import shared_task
from django.utils import timezone

from reports.aggregate import aggregate_due


@shared_task(name="reports.tasks.aggregate")
def aggregate() -> None:
    """Compute the hourly facts not final yet (the tick also calls this,
    at most once a minute per process)."""
    aggregate_due(now=timezone.now())
