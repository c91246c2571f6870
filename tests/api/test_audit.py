"""Every configuration change is recorded — who, when, what changed — and
admins see the record (the admin site and the API, read-only)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from agents.models import Role, Team
from audit.models import ConfigChange
from sla.models import BusinessCalendar, SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db


def _token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def _changes(model: str, object_id) -> list[ConfigChange]:
    return list(ConfigChange.objects.filter(model=model, object_id=str(object_id)).order_by("pk"))


def test_an_api_change_records_who_when_and_what():
    root = factories.user("root", role=Role.ADMIN)
    policy = SlaPolicy.objects.create(name="Gold", first_response_minutes=30, resolution_minutes=480)
    client = _token_client(root)
    response = client.patch(
        f"/api/v1/sla/policies/{policy.pk}/", {"resolution_minutes": 600}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    created, updated = _changes("sla.slapolicy", policy.pk)
    assert created.action == "created" and created.actor is None  # made outside a request
    assert updated.action == "updated"
    assert (updated.actor, updated.actor_name) == (root, "root")
    assert updated.via == f"PATCH /api/v1/sla/policies/{policy.pk}/"
    assert updated.changes == {"resolution_minutes": [480, 600]}
    assert updated.object_repr == str(policy)


def test_secrets_are_never_written_to_the_record():
    client = _token_client(factories.user("root", role=Role.ADMIN))
    made = client.post(
        "/api/v1/channels/",
        {"key": "shop", "name": "Shop", "kind": "api", "provider": "generic_json"},
        content_type="application/json",
    ).json()
    client.post(f"/api/v1/channels/{made['id']}/rotate-secret/")
    created, rotated = _changes("connectors.channel", made["id"])
    assert created.changes["secret"] == [None, "(hidden)"]
    assert rotated.changes == {"secret": ["(hidden)", "(hidden)"]}
    assert made["secret"] not in str(ConfigChange.objects.values_list("changes", flat=True))


def test_deleting_is_recorded_with_what_was_deleted():
    root = factories.user("root", role=Role.ADMIN)
    calendar = BusinessCalendar.objects.create(name="Madrid")
    assert _token_client(root).delete(f"/api/v1/sla/calendars/{calendar.pk}/").status_code == 204
    deleted = _changes("sla.businesscalendar", calendar.pk)[-1]
    assert deleted.action == "deleted" and deleted.actor == root
    assert deleted.changes["name"] == ["Madrid", None]


def test_a_supervisors_queue_priority_change_is_recorded():
    team = Team.objects.create(name="A")
    queue = factories.queue("Billing", team=team, priority=3)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    team.supervisors.add(sam)
    response = _token_client(sam).post(
        f"/api/v1/supervisor/queues/{queue.pk}/priority/", {"priority": 1}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    change = _changes("routing.queue", queue.pk)[-1]
    assert (change.action, change.actor_name, change.changes) == ("updated", "sam", {"priority": [3, 1]})


def test_saving_without_a_change_records_nothing():
    queue = factories.queue("Billing")
    queue.save()
    assert [c.action for c in _changes("routing.queue", queue.pk)] == ["created"]


def test_admins_read_the_audit_over_the_api_and_nobody_writes_it():
    root = factories.user("root", role=Role.ADMIN)
    queue = factories.queue("Billing")
    client = _token_client(root)
    rows = client.get(f"/api/v1/config-changes/?model=routing.queue&object_id={queue.pk}").json()["results"]
    assert [(r["action"], r["object_repr"]) for r in rows] == [("created", str(queue))]
    assert client.post("/api/v1/config-changes/", {}, content_type="application/json").status_code == 405
    assert client.delete(f"/api/v1/config-changes/{rows[0]['id']}/").status_code == 405


def test_the_admin_site_shows_the_audit_read_only():
    client = Client()
    client.force_login(_superuser())
    queue = factories.queue("Billing")
    change = _changes("routing.queue", queue.pk)[0]
    assert client.get("/admin/audit/configchange/").status_code == 200
    page = client.get(f"/admin/audit/configchange/{change.pk}/change/")
    assert page.status_code == 200 and b"Billing" in page.content
    assert client.get("/admin/audit/configchange/add/").status_code == 403


def _superuser():
    from django.contrib.auth.models import User

    return User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
