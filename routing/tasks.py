"""Celery entry points of the router; each only calls a service. Routing's
periodic jobs are registered in ``routing/apps.py`` (config/schedule.py)."""

from celery import shared_task
from django.utils import timezone

from routing import batch


@shared_task(name="routing.tasks.route_case")
def route_case(*, case_id: int) -> None:
    batch.route_case(case_id=case_id, now=timezone.now())


@shared_task(name="routing.tasks.route_agent")
def route_agent(*, agent_id: int) -> None:
    batch.route_agent(agent_id=agent_id, now=timezone.now())
