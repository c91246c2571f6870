"""Celery entry point of the retention purge (beat runs it hourly; the
periodic tick calls ``privacy.retention.purge_now_and_then`` too)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from privacy.retention import purge_expired_cases as purge


@shared_task(name="privacy.tasks.purge_expired_cases")
def purge_expired_cases() -> None:
    purge(now=timezone.now(), days=settings.SWITCHBOARD["RETENTION_DAYS"])
