"""``manage.py smtpd [--host 0.0.0.0] [--port 2525]``: the SMTP listener.

Accepts mail for the ``config["address"]`` of every active email channel
(550 for any other recipient) and stores each message first as an inbound
event of that channel. Point your MX, or your mail server's forwarding, at it.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from connectors.email.inbound import mailbox_channels
from connectors.email.smtp_server import make_controller


class Command(BaseCommand):
    help = "Receive mail for the email channels' addresses by SMTP and store it as inbound events."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on (default 2525)")

    def handle(self, *args, host: str, port: int, **options):
        if options["verbosity"] < 2:
            logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        addresses = sorted(mailbox_channels())
        if not addresses:
            self.stderr.write("warning: no active email channel has config.address; every recipient will get 550")
        controller = make_controller(hostname=host, port=port)
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(f"smtpd listening on {host}:{port} for {', '.join(addresses) or 'no address'}")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            controller.stop()
            self.stdout.write("smtpd stopped")
