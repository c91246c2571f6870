"""Health endpoints and the answer while the database is down.

``/healthz`` (liveness): the process answers; nothing else is touched.
``/readyz`` (readiness): the database, the Redis channel layer and the Celery
broker each answer within ``CHECK_TIMEOUT`` seconds, else 503 with a JSON body
naming what failed (only the kind of failure: the detail is logged, not shown).

Both are answered by ``HealthEndpoints``, the first middleware: before host
validation, HTTPS redirect, sessions and login, so a load balancer may probe
them by address over plain HTTP.

``DatabaseUnavailable`` turns a lost database (``OperationalError``,
``InterfaceError``) into 503 with ``Retry-After`` — JSON under ``/api/`` and
``/hooks/``, a short page elsewhere — instead of a 500 and a stack trace.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
HEALTH_PATHS = {"/healthz", "/healthz/", "/readyz", "/readyz/"}
RETRY_AFTER_SECONDS = 5
DOWN_ERRORS = (OperationalError, InterfaceError)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_channel_layer() -> None:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if "Redis" not in backend:
        return  # in-memory: part of this process
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    if settings.BACKGROUND_MODE != "celery":
        return  # background work runs in this process
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.transport_options.update(socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT)


CHECKS = {"database": check_database, "redis": check_channel_layer, "broker": check_broker}


def readiness() -> tuple[bool, dict[str, str]]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"failed: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return all(v == "ok" for v in results.values()), results


class HealthEndpoints:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path not in HEALTH_PATHS:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            response = JsonResponse({"error": "method_not_allowed", "detail": "GET or HEAD only"}, status=405)
            response["Allow"] = "GET, HEAD"
        elif request.path.startswith("/healthz"):
            response = JsonResponse({"status": "ok"})
        else:
            ready, checks = readiness()
            response = JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks})
            response.status_code = 200 if ready else 503
        response["Cache-Control"] = "no-store"
        return response


def unavailable(request) -> HttpResponse:
    """The 503 for a request the database could not serve."""
    if request.path.startswith(("/api/", "/hooks/")) or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"error": "database_unavailable", "detail": "The database is not reachable; try again shortly."},
            status=503,
        )
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard is unavailable</title></head>
<body><h1>Switchboard is briefly unavailable</h1>
<p>The database is not reachable. This page will work again shortly; please retry in a few seconds.</p>
</body></html>
"""


class DatabaseUnavailable:
    """A view (or template) that lost the database answers 503, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DOWN_ERRORS):
            log.error("database unavailable: %s %s: %s", request.method, request.path, exception)
            return unavailable(request)
        return None


def server_error(request, *args, **kwargs):
    """``handler500``: a database failure outside a view (in a middleware)
    still answers 503; anything else is Django's plain 500."""
    error = sys.exc_info()[1]
    if isinstance(error, DOWN_ERRORS) or (isinstance(error, DatabaseError) and "connection" in str(error).lower()):
        return unavailable(request)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request, *args, **kwargs)
