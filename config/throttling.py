"""Rate limits of the API (docs/api.md). Its own module: DRF imports the
throttle classes while ``rest_framework.views`` loads, which ``config.api`` imports."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class WriteRateThrottle(SimpleRateThrottle):
    """Writes (POST, PUT, PATCH, DELETE) per user, or per client address when
    anonymous, counted in the cache; reads pass. Over the limit: 429 with
    Retry-After. The rate is ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["write"]``
    (env ``SWITCHBOARD_API_WRITE_RATE``, e.g. ``120/minute``)."""

    scope = "write"

    def get_rate(self):
        # Read when asked (not at import) so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        who = f"user:{request.user.pk}" if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": who}
