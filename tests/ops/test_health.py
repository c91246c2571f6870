"""/healthz and /readyz (config.health)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from config import health


@pytest.mark.django_db
def test_liveness_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readiness_checks_database_redis_and_broker(client):
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readiness_names_what_failed_with_503(client, monkeypatch):
    def down():
        raise OperationalError("connection to server at 10.0.0.7 failed: password authentication failed")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "failed: OperationalError"
    assert body["checks"]["broker"] == "ok"
    assert "10.0.0.7" not in response.content.decode()  # the detail goes to the log, not to the caller


@pytest.mark.django_db
def test_readiness_fails_when_redis_does_not_answer(client, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["redis"].startswith("failed:")


@pytest.mark.django_db
def test_readiness_fails_when_the_broker_does_not_answer(client, settings, monkeypatch):
    from config.celery import app

    settings.BACKGROUND_MODE = "celery"
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"].startswith("failed:")


@pytest.mark.django_db
def test_probes_work_from_any_host_over_plain_http(client, settings):
    settings.ALLOWED_HOSTS = ["switchboard.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400  # everything else checks


@pytest.mark.django_db
def test_probes_take_get_only(client):
    response = client.post("/healthz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
