"""Every model registered in the admin has a list page that opens, and the
records only a connector or a service writes cannot be added by hand."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.mark.parametrize(
    "model", sorted(admin.site._registry, key=lambda m: m._meta.label), ids=lambda m: m._meta.label
)
def test_each_admin_list_page_opens(boss, model):
    meta = model._meta
    response = boss.get(f"/admin/{meta.app_label}/{meta.model_name}/")
    assert response.status_code == 200, meta.label


@pytest.mark.parametrize(
    "label",
    [
        "connectors.EmailDetail",
        "connectors.EmailAttachment",
        "connectors.MailboxState",
        "calls.CallSession",
        "connectors.DeliveryAttempt",
        "cases.CustomerMerge",
    ],
)
def test_written_by_the_system_only(boss, label):
    app, name = label.lower().split(".")
    assert boss.get(f"/admin/{app}/{name}/add/").status_code == 403
