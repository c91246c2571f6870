"""Celery entry points of the surveys app; each only calls a service."""

from celery import shared_task
from django.utils import timezone

from surveys import services


@shared_task(name="surveys.tasks.send_survey")
def send_survey(*, case_id: int) -> None:
    services.send_survey(case_id=case_id, now=timezone.now())
