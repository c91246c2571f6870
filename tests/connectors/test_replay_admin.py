"""Admins see failed inbound events, with their error, in the admin and
replay one or many (an admin action or ``manage.py replay_events``); wrong
command lines get a clear error."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from cases import services as case_services
from cases.models import Message
from connectors.models import InboundEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken(monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(case_services, "receive_message", fail)
    return monkeypatch


@pytest.fixture
def admin_client():
    from django.contrib.auth.models import User

    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_admin_lists_failed_events_with_their_error_and_shows_the_raw_body(deliver, broken, admin_client):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="m-1", text="<script>alert(1)</script>"))
    event = InboundEvent.objects.get()

    listing = admin_client.get("/admin/connectors/inboundevent/?status__exact=failed")
    assert listing.status_code == 200
    assert b"RuntimeError: the disk is on fire" in listing.content

    detail = admin_client.get(f"/admin/connectors/inboundevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert b"Traceback" in detail.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in detail.content  # escaped, never run
    assert b"<script>alert(1)</script>" not in detail.content


def test_admin_action_replays_the_selected_events(deliver, broken, admin_client, django_capture_on_commit_callbacks):
    channel = factories.channel("web")
    deliver(channel, factories.payload(id="m-1"))
    deliver(channel, factories.payload(id="m-2", thread="t2"))
    deliver(channel, factories.payload(id="m-3", thread="t3"))
    ids = list(InboundEvent.objects.order_by("pk").values_list("pk", flat=True))
    broken.undo()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/connectors/inboundevent/",
            {"action": "replay", "_selected_action": [str(pk) for pk in ids[:2]]},
            follow=True,
        )

    assert response.status_code == 200
    assert b"Replayed 2 event(s); 0 failed again." in response.content
    statuses = list(InboundEvent.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["processed", "processed", "failed"]
    assert Message.objects.count() == 2


def test_command_with_channel_alone_replays_that_channels_failed_events(deliver, broken, capsys):
    web, other = factories.channel("web"), factories.channel("other")
    deliver(web, factories.payload(id="m-1"))
    deliver(other, factories.payload(id="m-2"))
    broken.undo()

    call_command("replay_events", "--channel", "web")

    assert "replayed 1 of 1" in capsys.readouterr().out
    assert dict(InboundEvent.objects.values_list("dedupe_key", "status")) == {"m-1": "processed", "m-2": "failed"}


def test_command_refuses_unknown_ids_and_channels_with_a_clear_error(deliver, broken):
    deliver(factories.channel("web"), factories.payload(id="m-1"))
    with pytest.raises(CommandError, match="no inbound event with id 999"):
        call_command("replay_events", "999")
    with pytest.raises(CommandError, match="no channel with key 'nope'"):
        call_command("replay_events", "--channel", "nope")
    assert InboundEvent.objects.get().attempts == 1


def test_command_says_a_processed_event_is_not_replayed(deliver, capsys):
    deliver(factories.channel("web"), factories.payload(id="m-1"))
    event = InboundEvent.objects.get()

    call_command("replay_events", str(event.pk))

    out = capsys.readouterr().out
    assert f"event {event.pk}: processed, not replayed" in out
    assert "replayed 0 of 0" in out
