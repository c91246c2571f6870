from datetime import datetime

from celery import shared_task
from django.utils import timezone

from outhooks import services


@shared_task(name="outhooks.tasks.deliver")
def deliver(*, delivery_id: int, scanned_at: str | None = None) -> None:
    # The scan's clock when it is ahead of ours (tests pass a future "now").
    now = timezone.now()
    if scanned_at:
        now = max(now, datetime.fromisoformat(scanned_at))
    services.deliver(delivery_id=delivery_id, now=now)
