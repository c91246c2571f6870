"""Structured logs: request id in and out, case id bound, secrets redacted (config.logs)."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from django.utils import timezone

from config import logs
from tests import factories


@pytest.fixture
def json_log():
    """The root logger also writes through the production handler (JSON,
    context and redaction filters) into a buffer; yields the parsed lines."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.BindContext())
    handler.addFilter(logs.Redact())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_the_callers_request_id_is_kept_and_returned(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert response["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.django_db
def test_a_missing_or_unprintable_request_id_is_replaced_by_a_new_one(client):
    fresh = client.get("/healthz")["X-Request-ID"]
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="a b\u2028<script>")["X-Request-ID"]
    assert len(fresh) == 32 and len(odd) == 32 and fresh != odd


@pytest.mark.django_db
def test_each_request_writes_one_access_line_with_its_request_id_and_case_id(client, json_log):
    agent = factories.agent("ana")
    client.force_login(agent.user)
    case = factories.queued_case(factories.channel("web"))
    response = client.get(f"/api/v1/cases/{case.pk}/", HTTP_X_REQUEST_ID="req-1")
    (line,) = [entry for entry in json_log() if entry["logger"] == "switchboard.access"]
    assert response["X-Request-ID"] == "req-1"
    assert line["request_id"] == "req-1" and line["case_id"] == case.pk
    assert (line["method"], line["path"], line["status"]) == ("GET", f"/api/v1/cases/{case.pk}/", response.status_code)


def test_a_celery_task_logs_its_case_id_and_the_request_id_that_queued_it(json_log):
    from routing.tasks import route_case

    headers = {}
    with logs.bound(request_id="req-9"):
        logs._on_publish(headers=headers)
    assert headers == {"request_id": "req-9"}

    class Task:
        name = route_case.name

        class request:  # noqa: N801 (Celery's attribute)
            request_id = "req-9"

    logs._on_task_start(task=Task, kwargs={"case_id": 77, "text": "not bound"})
    logging.getLogger("routing").warning("routing")
    logs._on_task_end()
    logging.getLogger("routing").warning("after")
    during, after = json_log()
    assert (during["case_id"], during["request_id"], during["task"]) == (77, "req-9", "routing.tasks.route_case")
    assert "text" not in during and "case_id" not in after


@pytest.mark.parametrize(
    "written",
    [
        "headers: {'X-Hub-Signature-256': 'sha256=deadbeef00', 'Content-Type': 'json'}",
        "verify failed X-Switchboard-Signature=sha256=deadbeef00 for shop",
        'payload {"access_token": "deadbeef00", "ok": 1}',
        "smtp login user=ana password=deadbeef00",
        "Authorization: Bearer-deadbeef00",
        "x-telegram-bot-api-secret-token: deadbeef00",
        "channel secret='deadbeef00'",
    ],
)
def test_secrets_are_redacted_from_messages(json_log, written):
    logging.getLogger("connectors").warning(written)
    (line,) = json_log()
    assert "deadbeef00" not in json.dumps(line)
    assert "[redacted]" in line["message"]


def test_secrets_are_redacted_from_arguments_and_extra_fields(json_log):
    logging.getLogger("connectors").warning(
        "bad signature from %s: %s",
        "1.2.3.4",
        {"X-Twilio-Signature": "deadbeef00", "From": "+3460"},
        extra={"headers": {"Cookie": "sessionid=deadbeef00"}, "token": "deadbeef00"},
    )
    (line,) = json_log()
    assert "deadbeef00" not in json.dumps(line)
    assert "1.2.3.4" in line["message"] and "+3460" in line["message"]


def test_a_traceback_is_logged_redacted(json_log):
    try:
        raise ValueError("password=deadbeef00")
    except ValueError:
        logging.getLogger("connectors").exception("failed")
    (line,) = json_log()
    assert "ValueError" in line["exception"] and "deadbeef00" not in line["exception"]


def test_the_plain_format_redacts_tracebacks_too():
    formatter = logs.PlainFormatter("%(message)s")
    try:
        raise ValueError("token=deadbeef00")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "failed", None, sys.exc_info())
    assert "deadbeef00" not in formatter.format(record) and "ValueError" in formatter.format(record)


def test_production_settings_log_json_through_both_filters(settings):
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["context", "redact"]
    assert settings.LOGGING["formatters"]["json"] == {"()": "config.logs.JsonFormatter"}


@pytest.mark.django_db
def test_an_ingestion_task_learns_its_case_id_when_the_message_joins_a_case(json_log):
    from connectors import services
    from connectors.models import InboundEvent

    channel = factories.channel("shop")
    raw, _ = factories.signed(channel, factories.payload())
    event = InboundEvent.objects.create(channel=channel, received_at=timezone.now(), body=raw, dedupe_key="m")

    class Task:
        name = "connectors.tasks.process_event"
        request = None

    logs._on_task_start(task=Task, kwargs={"event_id": event.pk})
    services.process_event(event_id=event.pk, now=timezone.now())
    logging.getLogger("connectors").warning("done")
    logs._on_task_end()
    (line,) = [entry for entry in json_log() if entry["message"] == "done"]
    event.refresh_from_db()
    assert line["event_id"] == event.pk and line["case_id"] == event.message.case_id


def test_outside_a_request_or_task_no_case_id_lingers(json_log):
    logs.bind_case(5)  # an embedded-mode pool thread: nothing to bind to
    logging.getLogger("connectors").warning("later")
    (line,) = json_log()
    assert "case_id" not in line
