"""Send a fresh, signed demo message to a running Switchboard over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Channel
from connectors.providers.generic_json import SIGNATURE_HEADER, sign

SAMPLES = [
    ("es", "Hola, mi pedido no ha llegado todavía.", "maria@example.com", "María López"),
    ("en", "Hi, I was charged twice on my last invoice.", "tom@example.com", "Tom Baker"),
    ("en", "Can I get a quote for 50 seats?", "lee@example.com", "Lee Chen"),
    ("de", "Hallo, mein Passwort funktioniert nicht.", "jonas@example.com", "Jonas Weber"),
]


class Command(BaseCommand):
    help = "POST a signed demo message to the demo channel of a running server."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--channel", default="demo")
        parser.add_argument("--text")
        parser.add_argument("--language", default="")
        parser.add_argument("--sample", type=int, default=0, help="which sample message (0-3)")

    def handle(self, *args, url, channel, text, language, sample, **options):
        found = Channel.objects.filter(key=channel).first()
        if found is None:
            raise CommandError(f"no channel {channel!r}: run `manage.py seed_demo` first")
        lang, sample_text, address, name = SAMPLES[sample % len(SAMPLES)]
        payload = {
            "id": f"demo-{uuid.uuid4().hex[:12]}",
            "from": {"kind": "email", "address": address, "name": name},
            "language": language or lang,
            "text": text or sample_text,
        }
        body = json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 (http URL given by the operator)
            f"{url.rstrip('/')}/hooks/{channel}/",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(found.secret, body)},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                self.stdout.write(f"{response.status} {response.read().decode()}")
        except urllib.error.HTTPError as exc:
            raise CommandError(f"{exc.code} {exc.read().decode()}") from None
        except urllib.error.URLError as exc:
            raise CommandError(f"cannot reach {url}: {exc.reason} (is `make run` running?)") from None
