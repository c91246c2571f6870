"""Celery entry points of the connector layer; each only calls a service."""

from celery import shared_task
from django.utils import timezone

from connectors import services


@shared_task(name="connectors.tasks.process_event")
def process_event(*, event_id: int) -> None:
    services.process_event(event_id=event_id, now=timezone.now())


@shared_task(name="connectors.tasks.deliver_message")
def deliver_message(*, message_id: int) -> None:
    services.deliver_message(message_id=message_id, now=timezone.now())


@shared_task(name="connectors.tasks.fetch_mail")
def fetch_mail() -> None:
    """Read the IMAP mailboxes of email channels (scheduled by beat)."""
    from connectors.email.imap import poll_all

    poll_all(now=timezone.now())
