"""``POST /hooks/<channel-key>/``: a plain Django view, kept small and fast.

404 for an unknown or inactive channel, 413 over the size limit, 403 for a
bad signature (nothing stored), 400 for a body the provider would not send
(kept with its error), 202 when stored, 200 for a redelivery.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from connectors import services
from connectors.models import Channel


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@csrf_exempt
@require_http_methods(["POST"])
def webhook(request: HttpRequest, channel_key: str) -> JsonResponse:
    channel = Channel.objects.filter(key=channel_key, is_active=True).first()
    if channel is None:
        return _error(404, "unknown_channel", f"no active channel with key {channel_key!r}")
    limit = settings.SWITCHBOARD["MAX_WEBHOOK_BYTES"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad_request", "Content-Length is not a number")
    if declared > limit:
        return _error(413, "too_large", f"body over the limit of {limit} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _error(413, "too_large", f"body over the limit of {limit} bytes")
    result = services.receive_webhook(
        channel=channel,
        body=body,
        headers=dict(request.headers),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
        url=request.build_absolute_uri(),
        now=timezone.now(),
    )
    return JsonResponse(result.body, status=result.status)
