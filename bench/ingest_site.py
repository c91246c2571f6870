"""The server the ingest bench runs: Switchboard exactly as configured by the
environment, plus one no-op view at ``POST /bench/noop/`` — the reference the
webhook rate is compared with, served by the same process, through the same
middleware, in the same run.

Used as both ``DJANGO_SETTINGS_MODULE`` (it takes every setting from
``config.settings``) and ``ROOT_URLCONF`` (``config.urls`` plus the no-op).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_site"


@csrf_exempt
def noop(request: HttpRequest) -> JsonResponse:
    """Reads the body like the webhook does, stores nothing."""
    request.read()
    return JsonResponse({"status": "ok"}, status=202)


def __getattr__(name: str):
    # The URL patterns are built on first use, not when this module is read as
    # the settings (config.urls imports models, which need the app registry).
    if name == "urlpatterns":
        return [path("bench/noop/", noop), path("", include("config.urls"))]
    raise AttributeError(name)
