"""Store first, exactly once, never lost: a webhook's raw request is committed
as an ``InboundEvent`` before it is normalized; a redelivery is acknowledged
and stored nowhere twice; a failed normalization keeps the event, with its
error and traceback, replayable."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases import services as case_services
from cases.models import Case, CaseEvent, CaseStatus, Customer, Identity, Message
from connectors import services
from connectors.events import InboundEventFailed
from connectors.models import InboundEvent
from connectors.providers.generic_json import SIGNATURE_HEADER, GenericJsonProvider
from tests import factories
from tests.events import capture_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_events():
    """Collects the InboundEventFailed events published (on commit)."""
    with capture_events(InboundEventFailed) as seen:
        yield seen


@pytest.fixture
def failing_receive(monkeypatch):
    """Attaching a message fails after it has written a customer, a case and
    a message: the failure must roll all of them back."""
    real = case_services.receive_message
    calls = []

    def receive_then_fail(**kwargs):
        calls.append(kwargs)
        real(**kwargs)
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(case_services, "receive_message", receive_then_fail)
    return calls


# --- Store first --------------------------------------------------------------


def test_valid_webhook_is_stored_with_its_raw_request_and_processed(deliver):
    channel = factories.channel("web", default_queue=factories.queue("General"))
    body = factories.payload(id="msg-1")
    raw = json.dumps(body).encode()

    response = deliver(channel, raw, HTTP_COOKIE="sessionid=secret", HTTP_AUTHORIZATION="Bearer secret")

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert response.json() == {"status": "accepted", "event_id": event.pk}
    assert bytes(event.body) == raw
    assert event.dedupe_key == "msg-1"
    assert event.channel_id == channel.pk
    assert event.remote_addr == "127.0.0.1"
    lowered = {key.lower(): value for key, value in event.headers.items()}
    assert lowered["content-type"] == "application/json"
    assert lowered[SIGNATURE_HEADER.lower()].startswith("sha256=")
    assert "cookie" not in lowered
    assert "authorization" not in lowered
    assert "secret" not in json.dumps(event.headers)
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.attempts == 1
    assert event.processed_at is not None
    assert event.error == "" and event.traceback == ""
    message = Message.objects.get()
    assert event.message_id == message.pk
    assert message.provider_message_id == "msg-1"
    assert message.direction == Message.Direction.INBOUND
    assert message.text == body["text"]
    assert message.case.status == CaseStatus.QUEUED


def test_event_is_committed_and_acknowledged_before_it_is_normalized(client, django_capture_on_commit_callbacks):
    channel = factories.channel("web")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = factories.post_webhook(client, channel, factories.payload(id="msg-1"))

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.RECEIVED
    assert Case.objects.count() == 0 and Message.objects.count() == 0
    assert callbacks, "normalization is scheduled for after the commit"

    for callback in callbacks:
        callback()

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert Case.objects.count() == 1 and Message.objects.count() == 1


# --- Exactly once -------------------------------------------------------------


def test_redelivered_message_is_stored_once(deliver):
    channel = factories.channel("web")
    body = factories.payload(id="msg-1")

    first = deliver(channel, body)
    second = deliver(channel, body)
    third = deliver(channel, body)

    assert first.status_code == 202
    for again in (second, third):
        assert again.status_code == 200
        assert again.json() == {"status": "duplicate", "dedupe_key": "msg-1"}
    assert InboundEvent.objects.count() == 1
    assert Message.objects.count() == 1
    assert Case.objects.count() == 1
    assert Customer.objects.count() == 1


def test_redelivery_before_the_first_is_processed_is_still_a_duplicate(client, deliver):
    channel = factories.channel("web")
    body = factories.payload(id="msg-1")
    first = factories.post_webhook(client, channel, body)  # its processing never ran

    second = deliver(channel, body)

    assert (first.status_code, second.status_code) == (202, 200)
    assert InboundEvent.objects.get().status == InboundEvent.Status.RECEIVED
    assert Message.objects.count() == 0


def test_same_message_id_on_another_channel_is_another_message(deliver):
    web = factories.channel("web")
    mail = factories.channel("mail", kind="email")
    body = factories.payload(id="msg-1")

    assert deliver(web, body).status_code == 202
    assert deliver(mail, body).status_code == 202

    assert InboundEvent.objects.count() == 2
    assert sorted(Message.objects.values_list("channel__key", flat=True)) == ["mail", "web"]
    assert Case.objects.count() == 2
    assert Customer.objects.count() == 1  # the same sender on both channels


def test_message_already_stored_is_not_stored_again_from_another_event(deliver):
    channel = factories.channel("web")
    body = factories.payload(id="msg-1")
    deliver(channel, body)
    # The same message inside another delivery (another dedupe key).
    other = InboundEvent.objects.create(
        channel=channel, received_at=timezone.now(), body=json.dumps(body).encode(), dedupe_key="batch-7"
    )

    result = services.process_event(event_id=other.pk, now=timezone.now())

    assert result.status == InboundEvent.Status.IGNORED
    assert Message.objects.count() == 1
    assert Case.objects.count() == 1


def test_processed_event_is_not_processed_again(deliver):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="msg-1"))
    event = InboundEvent.objects.get()

    assert services.process_event(event_id=event.pk, now=timezone.now()) is None

    event.refresh_from_db()
    assert event.attempts == 1
    assert Message.objects.count() == 1


# --- A failure stays replayable -------------------------------------------------


def test_failed_normalization_keeps_the_event_with_its_error_and_rolls_back(deliver, failing_receive, failed_events):
    channel = factories.channel("web", default_queue=factories.queue("General"))

    response = deliver(channel, factories.payload(id="msg-1"))

    assert response.status_code == 202  # stored: the provider is not asked to retry
    assert len(failing_receive) == 1
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert event.error == "RuntimeError: the disk is on fire"
    assert "Traceback" in event.traceback and "the disk is on fire" in event.traceback
    assert event.attempts == 1
    assert event.message_id is None
    # What the failed attempt wrote is gone with it.
    assert Customer.objects.count() == 0
    assert Identity.objects.count() == 0
    assert Case.objects.count() == 0
    assert Message.objects.count() == 0
    assert CaseEvent.objects.count() == 0
    assert failed_events == [InboundEventFailed(event_id=event.pk, channel_id=channel.pk)]


def test_provider_failing_to_normalize_leaves_event_failed(deliver, monkeypatch):
    def broken(self, *, channel, event):
        raise KeyError("text")

    monkeypatch.setattr(GenericJsonProvider, "normalize", broken)
    channel = factories.channel("web")

    deliver(channel, factories.payload(id="msg-1"))

    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert event.error.startswith("KeyError")
    assert Case.objects.count() == 0


def test_failed_event_is_replayed_once_the_fault_is_gone(
    deliver, failing_receive, monkeypatch, django_capture_on_commit_callbacks
):
    channel = factories.channel("web", default_queue=factories.queue("General"))
    deliver(channel, factories.payload(id="msg-1"))
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    monkeypatch.undo()  # the fix is deployed

    with django_capture_on_commit_callbacks(execute=True):
        replayed = services.replay_events(event_ids=[event.pk], now=timezone.now())

    assert [e.pk for e in replayed] == [event.pk]
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.error == "" and event.traceback == ""
    assert event.attempts == 2
    case = Case.objects.get()
    assert case.status == CaseStatus.QUEUED
    assert event.message.case_id == case.pk
    assert Message.objects.count() == 1


def test_replaying_a_processed_event_changes_nothing(deliver):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="msg-1"))
    event = InboundEvent.objects.get()

    assert services.replay_events(event_ids=[event.pk], now=timezone.now()) == []

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.attempts == 1
    assert Message.objects.count() == 1


def test_replay_events_command_replays_the_named_event(deliver, failing_receive, monkeypatch, capsys):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="msg-1"))
    deliver(channel, factories.payload(id="msg-2"))
    first, second = InboundEvent.objects.order_by("pk")
    monkeypatch.undo()

    call_command("replay_events", str(first.pk))

    out = capsys.readouterr().out
    assert f"event {first.pk}: processed" in out
    assert "replayed 1 of 1" in out
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == InboundEvent.Status.PROCESSED
    assert second.status == InboundEvent.Status.FAILED
    assert Message.objects.get().provider_message_id == "msg-1"


def test_replay_events_command_with_failed_replays_every_failed_event(deliver, failing_receive, monkeypatch, capsys):
    web = factories.channel("web")
    mail = factories.channel("mail", kind="email")
    deliver(web, factories.payload(id="msg-1"))
    deliver(web, factories.payload(id="msg-2", thread="other"))
    deliver(mail, factories.payload(id="msg-3"))
    monkeypatch.undo()

    call_command("replay_events", "--failed", "--channel", "web")

    assert "replayed 2 of 2" in capsys.readouterr().out
    statuses = dict(InboundEvent.objects.values_list("dedupe_key", "status"))
    assert statuses == {"msg-1": "processed", "msg-2": "processed", "msg-3": "failed"}

    call_command("replay_events", "--failed")

    assert InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == 3
    assert Message.objects.count() == 3


def test_replay_events_command_without_arguments_is_an_error():
    with pytest.raises(CommandError, match="--failed"):
        call_command("replay_events")


def test_replay_events_command_still_failing_reports_the_error(deliver, failing_receive, capsys):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="msg-1"))
    event = InboundEvent.objects.get()

    call_command("replay_events", str(event.pk))

    assert f"event {event.pk}: failed — RuntimeError: the disk is on fire" in capsys.readouterr().out
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED
    assert event.attempts == 2
    assert Case.objects.count() == 0


# --- Never lost: a worker died after the commit --------------------------------


def test_stale_unprocessed_event_is_picked_up_and_a_fresh_one_is_left(client, django_capture_on_commit_callbacks):
    channel = factories.channel("web", default_queue=factories.queue("General"))
    # The events are committed, but the work scheduled for them never runs.
    factories.post_webhook(client, channel, factories.payload(id="msg-old"))
    factories.post_webhook(client, channel, factories.payload(id="msg-new", thread="other"))
    now = timezone.now()
    InboundEvent.objects.filter(dedupe_key="msg-old").update(received_at=now - timedelta(seconds=31))
    InboundEvent.objects.filter(dedupe_key="msg-new").update(received_at=now - timedelta(seconds=5))
    assert InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        done = services.retry_stale_events(now=now)

    assert done == 1
    statuses = dict(InboundEvent.objects.values_list("dedupe_key", "status"))
    assert statuses == {"msg-old": "processed", "msg-new": "received"}
    case = Case.objects.get()
    assert case.status == CaseStatus.QUEUED
    assert case.messages.get().provider_message_id == "msg-old"


def test_stale_event_retry_window_comes_from_settings(client, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "INBOUND_RETRY_AFTER_SECONDS": 600}
    channel = factories.channel("web")
    factories.post_webhook(client, channel, factories.payload(id="msg-1"))
    now = timezone.now()
    InboundEvent.objects.update(received_at=now - timedelta(seconds=300))

    assert services.retry_stale_events(now=now) == 0
    assert services.retry_stale_events(now=now + timedelta(seconds=301)) == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_failed_event_is_not_retried_by_the_stale_scan(deliver, failing_receive):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="msg-1"))

    assert services.retry_stale_events(now=timezone.now() + timedelta(days=1)) == 0
    assert len(failing_receive) == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED
