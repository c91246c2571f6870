"""The Celery entry point of the periodic work (config/schedule.py): beat
sends ``config.tasks.tick`` every second (``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task
from django.utils import timezone

from config import schedule


@shared_task(name="config.tasks.tick")
def tick() -> None:
    """Every app's periodic jobs, in order (the in-process ticker runs the
    same registry in embedded mode): everything due is found from the
    database."""
    schedule.run_due(timezone.now())
