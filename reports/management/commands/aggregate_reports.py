"""``manage.py aggregate_reports --since 2026-10-01``: compute the hourly
facts of every finished hour since a date (the tick keeps only the last
few hours; use this after installing, or to rebuild history)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.aggregate import aggregate_due
from reports.models import AggregatedHour


class Command(BaseCommand):
    help = "Compute the report facts of every finished hour since a date (UTC)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="a date or date and time, e.g. 2026-10-01 (UTC)")
        parser.add_argument("--again", action="store_true", help="recompute hours already final")

    def handle(self, *args, since: str, again: bool, **options) -> None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise CommandError(f"--since must be a date such as 2026-10-01, got {since!r}") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        if again:
            AggregatedHour.objects.filter(hour__gte=start).update(computed_at=None)
        computed = aggregate_due(now=timezone.now(), since=start)
        self.stdout.write(f"{computed} hours computed")
