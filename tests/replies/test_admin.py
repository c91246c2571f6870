"""Admins keep the template library in the Django admin: a body with an
unknown variable is refused with the reason, and changes are audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from audit.models import ConfigChange
from replies.models import Template

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


def _form(**fields) -> dict:
    return {
        "name": "Greeting",
        "shortcut": "greeting",
        "kind": "template",
        "body": "Hi {{customer.first_name}}",
        "channel_kinds": "[]",
        "language": "",
        "is_active": "on",
    } | fields


def test_a_body_with_an_unknown_variable_is_refused_with_the_reason(admin_client):
    response = admin_client.post("/admin/replies/template/add/", _form(body="Hi {{customer.nickname}}"))

    assert response.status_code == 200
    assert "unknown variable {{customer.nickname}}" in response.content.decode()
    assert not Template.objects.exists()


def test_unknown_channel_kinds_are_refused(admin_client):
    response = admin_client.post("/admin/replies/template/add/", _form(channel_kinds='["fax"]'))

    assert response.status_code == 200
    assert "a list of channel kinds" in response.content.decode()
    assert not Template.objects.exists()


def test_a_template_added_in_the_admin_is_audited(admin_client):
    response = admin_client.post("/admin/replies/template/add/", _form(channel_kinds='["email", "sms"]'))

    assert response.status_code == 302
    template = Template.objects.get()
    assert template.channel_kinds == ["email", "sms"]
    change = ConfigChange.objects.get(model="replies.template")
    assert change.actor.username == "root" and change.action == "created"
