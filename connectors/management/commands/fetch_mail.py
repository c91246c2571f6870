"""``manage.py fetch_mail``: read the IMAP mailboxes of email channels.

Once by default (what a cron job or the periodic task does); ``--watch``
keeps going, one thread per mailbox, waiting with IDLE where the server has
it and polling every ``--interval`` seconds where it does not.
"""

from __future__ import annotations

import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from connectors.email import imap
from connectors.models import Channel


class Command(BaseCommand):
    help = "Fetch new mail from the IMAP mailboxes of email channels and store it as inbound events."

    def add_arguments(self, parser):
        parser.add_argument("--channel", action="append", default=[], help="only this channel key (repeatable)")
        parser.add_argument("--watch", action="store_true", help="keep fetching (IDLE where supported)")
        parser.add_argument("--interval", type=float, default=60, help="seconds between polls without IDLE")

    def handle(self, *args, channel: list[str], watch: bool, interval: float, **options):
        channels = imap.imap_channels()
        if channel:
            unknown = set(channel) - {c.key for c in channels}
            if unknown:
                known = Channel.objects.filter(key__in=unknown).values_list("key", flat=True)
                raise CommandError(
                    f"not an active email channel with config.imap: {', '.join(sorted(unknown))}"
                    + (f" ({', '.join(known)} exist but read no mailbox)" if known else "")
                )
            channels = [c for c in channels if c.key in channel]
        if not channels:
            raise CommandError("no active email channel has config.imap: nothing to fetch")
        if not watch:
            failed = False
            for item in channels:
                result = imap.poll_mailbox(channel=item, now=timezone.now())
                self._report(result)
                failed = failed or bool(result.error)
            if failed:
                raise CommandError("some mailboxes could not be read")
            return
        threads = [threading.Thread(target=self._watch, args=(c, interval), daemon=True) for c in channels]
        for thread in threads:
            thread.start()
        try:
            while any(t.is_alive() for t in threads):
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("stopped")

    def _report(self, result: imap.PollResult) -> None:
        if result.error:
            self.stderr.write(f"{result.channel}: {result.error}")
        else:
            self.stdout.write(
                f"{result.channel}: {result.fetched} fetched, {result.stored} stored, {result.duplicates} duplicates"
            )

    def _watch(self, channel: Channel, interval: float) -> None:
        while True:
            close_old_connections()
            conn = None
            try:
                conn = imap.connect(imap.imap_config(channel))
                while True:
                    result = imap.poll_mailbox(channel=channel, now=timezone.now(), conn=conn)
                    self._report(result)
                    if result.error:
                        raise imap.MailboxError("reconnecting")
                    if imap.supports_idle(conn):
                        imap.wait_for_mail(conn, timeout=25 * 60)
                    else:
                        time.sleep(interval)
            except (imap.MailboxError, OSError) as exc:
                self.stderr.write(f"{channel.key}: {exc}; retrying in {interval:.0f} s")
                time.sleep(interval)
            finally:
                if conn is not None:
                    imap.logout(conn)
