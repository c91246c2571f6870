"""A lost database answers 503 (JSON for the API and webhooks, a short page
otherwise), never a 500 with a stack trace (config.health). The database is
made to fail every statement through Django's own execute wrapper; the
PostgreSQL restart itself is a fault test (tests/faults/)."""

from __future__ import annotations

import sys

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from config import health
from tests import factories


def _down(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def staff_client(db):
    client = Client(raise_request_exception=False)
    client.force_login(factories.agent("ana").user)
    return client


def test_the_api_answers_503_json_while_the_database_is_down(staff_client):
    with connection.execute_wrapper(_down):
        response = staff_client.get("/api/v1/cases/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "database_unavailable"
    assert response["Retry-After"] == "5"


def test_a_page_answers_a_short_503_page_while_the_database_is_down(staff_client):
    with connection.execute_wrapper(_down):
        response = staff_client.get("/agent/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert b"briefly unavailable" in response.content and b"Traceback" not in response.content


def test_a_webhook_answers_503_json_and_the_provider_retries_later(db):
    channel = factories.channel("shop")
    client = Client(raise_request_exception=False)
    raw, headers = factories.signed(channel, factories.payload())
    with connection.execute_wrapper(_down):
        response = client.post("/hooks/shop/", data=raw, content_type="application/json", **headers)
    assert response.status_code == 503 and response.json()["error"] == "database_unavailable"


def test_the_login_page_answers_503_when_the_database_is_down(db):
    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(_down):
        response = client.post("/accounts/login/", {"username": "ana", "password": "x"})
    assert response.status_code == 503


def test_a_database_error_outside_a_view_still_answers_503():
    request = RequestFactory().get("/api/v1/cases/")
    try:
        raise OperationalError("the database system is shutting down")
    except OperationalError:
        assert sys.exc_info()[0] is OperationalError
        response = health.server_error(request)
    assert response.status_code == 503 and b"database_unavailable" in response.content


def test_any_other_error_outside_a_view_stays_a_plain_500():
    request = RequestFactory().get("/agent/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = health.server_error(request)
    assert response.status_code == 500


def test_the_health_probe_stays_alive_while_the_database_is_down(db):
    with connection.execute_wrapper(_down):
        assert Client().get("/healthz").status_code == 200
        assert Client().get("/readyz").status_code == 503


def test_embedded_mode_with_debug_on_answers_503_too_not_the_debug_page(staff_client, settings):
    settings.DEBUG = True  # Django would show its technical 500 page; the middleware answers first
    with connection.execute_wrapper(_down):
        response = staff_client.get("/api/v1/cases/")
    assert response.status_code == 503 and response.json()["error"] == "database_unavailable"
