"""A new case's clocks are brought in line once for its first message, not
once for the case and again for the message that created it; later
messages still sync."""

from __future__ import annotations

import pytest

from cases.models import Case
from sla import services
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_new_case_syncs_once_and_each_later_message_again(client, monkeypatch, django_capture_on_commit_callbacks):
    synced: list[int] = []
    real = services.sync_case

    def counting(*, case_id, now):
        synced.append(case_id)
        return real(case_id=case_id, now=now)

    monkeypatch.setattr(services, "sync_case", counting)
    channel = factories.channel("web", default_queue=factories.queue("General"))

    with django_capture_on_commit_callbacks(execute=True):
        assert factories.post_webhook(client, channel, factories.payload(id="m-1")).status_code == 202
    case = Case.objects.get()
    assert synced.count(case.pk) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert factories.post_webhook(client, channel, factories.payload(id="m-2", text="Any news?")).status_code == 202
    assert Case.objects.get() == case
    assert synced.count(case.pk) == 2
