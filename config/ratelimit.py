"""A rate limit on webhooks (``POST /hooks/<channel-key>/``): at most
``SWITCHBOARD["WEBHOOK_RATE"]`` requests per channel key and client address
in a fixed window, counted in the cache (Redis when configured, so every web
process shares the count). Over the limit: 429 with ``Retry-After``, before
the body is read or anything is stored; the provider retries later.

A middleware rather than code in the webhook view: it guards the door for
every provider, and it works for sync and async views alike.

Off by default: counting in Redis costs each webhook a thread hop and a
round trip, measured by ``python -m bench ingest`` at about a third of the
accepted rate on a loaded 2-core machine (docs/api.md); turn it on with
``SWITCHBOARD_WEBHOOK_RATE`` where floods are a bigger risk than that."""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse

HOOK_PATH = re.compile(r"^/hooks/(?P<key>[^/]+)/$")
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int
    seconds: int


def parse_rate(text: str) -> Rate | None:
    """``"600/minute"`` → Rate(600, 60); ``""`` or ``"0"``: no limit."""
    text = (text or "").strip()
    if text in ("", "0"):
        return None
    count, _, period = text.partition("/")
    if not (count.isascii() and count.isdigit()) or period not in PERIODS or int(count) < 1:
        raise ImproperlyConfigured(f"a rate is '<n>/<{'|'.join(PERIODS)}>', not {text!r}")
    return Rate(int(count), PERIODS[period])


def retry_after(*, key: str, rate: Rate, now: float) -> int | None:
    """Count one request; the seconds to wait when over the limit, else None."""
    window = int(now // rate.seconds)
    count = _count(f"ratelimit:hooks:{key}:{window}", ttl=rate.seconds + 1)
    if count <= rate.requests:
        return None
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def _count(counter: str, *, ttl: int) -> int:
    """Add one to the window's counter and return it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip (INCR + EXPIRE in a pipeline) instead of ADD then INCR:
        # it is on every webhook's path.
        name = backend.make_and_validate_key(counter)
        client = backend._cache.get_client(name, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, ttl)
        return int(pipe.execute()[0])
    cache.add(counter, 0, timeout=ttl)
    try:
        return cache.incr(counter)
    except ValueError:  # expired between add and incr: a new window
        cache.add(counter, 1, timeout=ttl)
        return 1


def _rate() -> Rate | None:
    return _parsed(settings.SWITCHBOARD.get("WEBHOOK_RATE", ""))


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> Rate | None:
    return parse_rate(text)


def _too_many(wait: int) -> JsonResponse:
    response = JsonResponse(
        {"error": "rate_limited", "detail": f"too many requests for this channel; retry in {wait} s"}, status=429
    )
    response["Retry-After"] = str(wait)
    return response


class WebhookRateLimit:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _key(self, request) -> str | None:
        if request.method != "POST":
            return None
        match = HOOK_PATH.match(request.path_info)
        if match is None:
            return None
        return f"{match['key'][:100]}:{request.META.get('REMOTE_ADDR') or '-'}"

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        rate, key = _rate(), self._key(request)
        wait = retry_after(key=key, rate=rate, now=time.time()) if rate and key else None
        return _too_many(wait) if wait else self.get_response(request)

    async def __acall__(self, request):
        rate, key = _rate(), self._key(request)
        wait = None
        if rate and key:  # off (the default): not even a thread hop
            wait = await sync_to_async(retry_after, thread_sensitive=False)(key=key, rate=rate, now=time.time())
        return _too_many(wait) if wait else await self.get_response(request)
