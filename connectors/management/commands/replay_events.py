from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connectors import services
from connectors.models import Channel, InboundEvent

REPLAYABLE = [InboundEvent.Status.FAILED, InboundEvent.Status.IGNORED]


class Command(BaseCommand):
    help = (
        "Process inbound events again after a fix: by id (failed or ignored ones), every failed "
        "event (--failed), or the failed events of one channel (--channel KEY)."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_ids", nargs="*", type=int, help="ids of failed or ignored events")
        parser.add_argument("--failed", action="store_true", help="replay every failed event")
        parser.add_argument("--channel", help="only failed events of the channel with this key")

    def handle(self, *args, event_ids, failed, channel, **options):
        if not event_ids and not failed and not channel:
            raise CommandError("name event ids, or --failed for all failed events (--channel KEY for one channel)")
        ids = list(dict.fromkeys(event_ids))
        if ids:
            found = dict(InboundEvent.objects.filter(pk__in=ids).values_list("pk", "status"))
            missing = [pk for pk in ids if pk not in found]
            if missing:
                raise CommandError(f"no inbound event with id {', '.join(map(str, missing))}")
            for pk in ids:
                if found[pk] not in REPLAYABLE:
                    self.stdout.write(f"event {pk}: {found[pk]}, not replayed (only failed or ignored events are)")
            ids = [pk for pk in ids if found[pk] in REPLAYABLE]
        if failed or channel:
            qs = InboundEvent.objects.filter(status=InboundEvent.Status.FAILED).order_by("received_at", "pk")
            if channel:
                if not Channel.objects.filter(key=channel).exists():
                    raise CommandError(f"no channel with key {channel!r}")
                qs = qs.filter(channel__key=channel)
            ids += [pk for pk in qs.values_list("pk", flat=True) if pk not in ids]
        events = services.replay_events(event_ids=ids, now=timezone.now())
        for event in events:
            self.stdout.write(f"event {event.pk}: {event.status}{' — ' + event.error if event.error else ''}")
        still = sum(1 for e in events if e.status == InboundEvent.Status.FAILED)
        self.stdout.write(f"replayed {len(events)} of {len(ids)}" + (f"; {still} failed again" if still else ""))
