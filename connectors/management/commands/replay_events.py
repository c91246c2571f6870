from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connectors import services
from connectors.models import InboundEvent


class Command(BaseCommand):
    help = "Process failed inbound events again: by id, or all failed ones (--failed)."

    def add_arguments(self, parser):
        parser.add_argument("event_ids", nargs="*", type=int)
        parser.add_argument("--failed", action="store_true", help="replay every failed event")
        parser.add_argument("--channel", help="with --failed: only this channel key")

    def handle(self, *args, event_ids, failed, channel, **options):
        if not event_ids and not failed:
            raise CommandError("name event ids, or --failed for all failed events")
        ids = list(event_ids)
        if failed:
            qs = InboundEvent.objects.filter(status=InboundEvent.Status.FAILED)
            if channel:
                qs = qs.filter(channel__key=channel)
            ids += list(qs.values_list("pk", flat=True))
        events = services.replay_events(event_ids=ids, now=timezone.now())
        for event in events:
            self.stdout.write(f"event {event.pk}: {event.status}{' — ' + event.error if event.error else ''}")
        self.stdout.write(f"replayed {len(events)} of {len(ids)}")
