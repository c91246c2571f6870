"""Inbound deliveries in each provider's real shape, signed as the provider
signs them, for benchmarks and load runs that send a mix of providers.

``seed_channels`` (inside Django) creates one channel per provider with a
known secret; ``Mix`` (in the sending process) builds the n-th delivery of
the mix: the same n always gives the same bytes, so a redelivery is simply
the same n sent again, as providers do after a timeout.

Providers: the generic JSON hook (HMAC-SHA256 header), Twilio SMS
(form-encoded, ``X-Twilio-Signature``: HMAC-SHA1 over the URL and sorted
parameters), Meta WhatsApp Cloud API (JSON, ``X-Hub-Signature-256``) and
Telegram Bot API updates (``X-Telegram-Bot-Api-Secret-Token``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlencode

PROVIDERS = ("generic_json", "twilio", "meta", "telegram")
SECRET = "bench-provider-secret"  # noqa: S105 (a benchmark's own channels)
# Twilio signs the URL it was configured with; the channel's config names it,
# so the signature does not depend on the port the bench server listens on.
TWILIO_URL = "https://switchboard.example.com/hooks/{key}/"


@dataclass(frozen=True, slots=True)
class Delivery:
    provider: str
    path: str
    body: bytes
    headers: dict[str, str]


def channel_key(provider: str, prefix: str = "bench") -> str:
    return f"{prefix}-{provider.replace('_', '-')}"


KINDS = {"generic_json": "api", "twilio": "sms", "meta": "whatsapp", "telegram": "telegram"}  # channel kind of each


def seed_channels(
    *, queue_name: str = "Bench providers", prefix: str = "bench", providers=PROVIDERS, queue=None
) -> dict:
    """One channel per provider in one queue (inside Django): ``queue``, or
    a new one named ``queue_name``."""
    from connectors.models import Channel
    from routing.models import Queue

    queue = queue if queue is not None else Queue.objects.create(name=queue_name)
    kinds = KINDS
    for provider in providers:
        key = channel_key(provider, prefix)
        config = {}
        if provider == "twilio":
            config = {"webhook_url": TWILIO_URL.format(key=key), "account_sid": "AC" + "0" * 32}
        elif provider == "meta":
            config = {"verify_token": "bench", "access_token": "bench"}
        elif provider == "telegram":
            config = {"bot_token": "1:bench"}
        Channel.objects.create(
            key=key,
            name=f"Bench {provider}",
            kind=kinds[provider],
            provider=provider,
            secret=SECRET,
            default_queue=queue,
            config=config,
        )
    return {"queue": queue.pk, "channels": [channel_key(p, prefix) for p in providers]}


class Mix:
    """The n-th delivery of a round-robin mix of ``providers``."""

    def __init__(self, providers=PROVIDERS, *, prefix: str = "bench", run: str = "r") -> None:
        unknown = set(providers) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers: {', '.join(sorted(unknown))}; known: {', '.join(PROVIDERS)}")
        self.providers = tuple(providers)
        self.prefix = prefix
        self.run = run  # distinguishes runs against one database (ids stay unique)

    def provider_of(self, n: int) -> str:
        return self.providers[n % len(self.providers)]

    def token(self, n: int) -> str:
        """The first word of delivery ``n``'s text: how a run finds its messages again."""
        return f"{self.run}-{n}"

    def _number(self, token: str, digits: int = 7) -> int:
        """A number unique to this run and delivery (ids, phone numbers)."""
        return int(hashlib.sha256(token.encode()).hexdigest()[:12], 16) % 10**digits

    def _phone(self, token: str) -> str:
        """Seven digits of a valid North American number (the exchange never starts with 0 or 1)."""
        return str(2_000_000 + self._number(token) % 8_000_000)

    def delivery(self, n: int) -> Delivery:
        provider = self.provider_of(n)
        key = channel_key(provider, self.prefix)
        token = self.token(n)
        text = f"{token} Hello, my order has not arrived and I would like to know where it is."
        build = getattr(self, f"_{provider}")
        body, headers = build(key, n, token, text)
        return Delivery(provider=provider, path=f"/hooks/{key}/", body=body, headers=headers)

    # Each provider's shape -------------------------------------------------

    def _generic_json(self, key: str, n: int, token: str, text: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "id": token,
                "from": {"kind": "email", "address": f"{token}@bench.example.com", "name": f"Customer {token}"},
                "text": text,
            }
        ).encode()
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-Switchboard-Signature": f"sha256={mac}", "Content-Type": "application/json"}

    def _twilio(self, key: str, n: int, token: str, text: str) -> tuple[bytes, dict[str, str]]:
        sid = "SM" + hashlib.sha256(token.encode()).hexdigest()[:32]
        params = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "To": "+15005550006",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": f"+1415{self._phone(token)}",
            "ApiVersion": "2010-04-01",
        }
        url = TWILIO_URL.format(key=key)
        signed = url + "".join(k + v for k, v in sorted(params.items()))
        mac = base64.b64encode(hmac.new(SECRET.encode(), signed.encode(), hashlib.sha1).digest()).decode()
        return urlencode(params).encode(), {
            "X-Twilio-Signature": mac,
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def _meta(self, key: str, n: int, token: str, text: str) -> tuple[bytes, dict[str, str]]:
        wa_id = f"1628{self._phone(token)}"
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": f"Customer {token}"}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": f"wamid.{token}",
                    "timestamp": "1764000000",
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
            }
        ).encode()
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-Hub-Signature-256": f"sha256={mac}", "Content-Type": "application/json"}

    def _telegram(self, key: str, n: int, token: str, text: str) -> tuple[bytes, dict[str, str]]:
        # update_id must be an integer, unique per run: the run's own number space.
        update_id = int(hashlib.sha256(self.run.encode()).hexdigest()[:6], 16) * 10_000_000 + n
        user = {
            "id": 700_000_000 + self._number(token, 8),
            "is_bot": False,
            "first_name": "Customer",
            "last_name": token,
        }
        body = json.dumps(
            {
                "update_id": update_id,
                "message": {
                    "message_id": n + 1,
                    "from": user,
                    "chat": {"id": user["id"], "first_name": "Customer", "type": "private"},
                    "date": 1764000000,
                    "text": text,
                },
            }
        ).encode()
        return body, {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
