"""``POST /hooks/<channel-key>/``: kept small and fast.

404 for an unknown or inactive channel, 413 over the size limit, 403 for a
bad signature (nothing stored), 400 for a body the provider would not send
(kept with its error), 202 when stored (200 for a provider whose
``accepted_status`` says so, as Meta retries anything else), 200 for a redelivery.

``GET /hooks/<channel-key>/`` answers a provider's endpoint verification (X's
CRC check, Meta's ``hub.challenge``): a provider that has one defines
``handshake(*, channel, params) -> (status, body)``, ``params`` being the
query string; a ``dict`` body is sent as JSON, a ``str`` as plain text.
Providers without it answer 405. Nothing is stored.

An async view: under ASGI, plain (sync) Django views all run on one thread,
so a webhook waiting on PostgreSQL and the broker would hold every other
request up. Here the blocking part runs on the thread pool, several webhooks
at once, each thread with its own database connection. In ``inline``
background mode (the test suite) it runs on the request's own thread, where
the test's transaction is.
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from connectors import services
from connectors.models import Channel
from connectors.providers import provider_for


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


class _Channels:
    """Active channels by key, kept per process for a few seconds: a webhook
    does not read its channel from the database each time. A channel saved or
    deleted in this process is forgotten at once; in others within
    ``SECONDS`` (a deactivated channel may accept a few more webhooks there,
    which are stored like any other)."""

    SECONDS = 5.0

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, Channel | None]] = {}

    def get(self, key: str) -> Channel | None:
        found = self._kept.get(key)
        if found is not None and time.monotonic() - found[0] < self.SECONDS:
            return found[1]
        channel = Channel.objects.filter(key=key, is_active=True).first()
        if channel is not None:  # unknown keys are not kept: anyone can send those
            self._kept[key] = (time.monotonic(), channel)
        return channel

    def clear(self, *args, **kwargs) -> None:
        self._kept = {}


channels = _Channels()


def _fresh_connection() -> None:
    """What Django does at the start of a request, for this pool thread's own
    connection (request signals run on another thread): one broken by a
    database restart, or too old, is replaced, not used again and again."""
    if settings.BACKGROUND_MODE != "inline":  # inline: the request's thread and transaction (tests)
        close_old_connections()


def _receive(channel_key: str, body: bytes, headers: dict, remote_addr: str | None, url: str) -> JsonResponse:
    _fresh_connection()
    channel = channels.get(channel_key)
    if channel is None:
        return _error(404, "unknown_channel", f"no active channel with key {channel_key!r}")
    result = services.receive_webhook(
        channel=channel, body=body, headers=headers, remote_addr=remote_addr, url=url, now=timezone.now()
    )
    return JsonResponse(result.body, status=result.status)


def _handshake(channel_key: str, params: dict[str, str]) -> HttpResponse:
    _fresh_connection()
    channel = channels.get(channel_key)
    if channel is None:
        return _error(404, "unknown_channel", f"no active channel with key {channel_key!r}")
    handshake = getattr(provider_for(channel.provider), "handshake", None)
    if handshake is None:
        response = _error(405, "method_not_allowed", f"the {channel.provider} provider takes POST only")
        response["Allow"] = "POST"
        return response
    status, body = handshake(channel=channel, params=params)
    if isinstance(body, str):
        return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    return JsonResponse(body, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
async def webhook(request: HttpRequest, channel_key: str) -> HttpResponse:
    if request.method == "GET":
        handshake = sync_to_async(_handshake, thread_sensitive=settings.BACKGROUND_MODE == "inline")
        return await handshake(channel_key, {key: request.GET.get(key, "") for key in request.GET})
    limit = settings.SWITCHBOARD["MAX_WEBHOOK_BYTES"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad_request", "Content-Length is not a number")
    if declared > limit:
        return _error(413, "too_large", f"body over the limit of {limit} bytes")
    body = request.read(limit + 1)  # already received by the server: no waiting here
    if len(body) > limit:
        return _error(413, "too_large", f"body over the limit of {limit} bytes")
    receive = sync_to_async(_receive, thread_sensitive=settings.BACKGROUND_MODE == "inline")
    return await receive(
        channel_key, body, dict(request.headers), request.META.get("REMOTE_ADDR") or None, request.build_absolute_uri()
    )
