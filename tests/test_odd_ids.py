"""Ids in URLs and query strings that are "digits" to Python but not numbers
to the database ('²', '١٢', a 40-digit number) get a 4xx, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

ODD = ["²", "١٢", "9" * 40]


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/v1/supervisor/queues/{}/cases/"),
        ("post", "/api/v1/supervisor/queues/{}/priority/"),
        ("post", "/api/v1/supervisor/agents/{}/status/"),
        ("get", "/api/v1/sla/queue-opening/{}/"),
        ("get", "/api/v1/sla/clocks/?case={}"),
    ],
)
def test_odd_ids_are_refused_cleanly(admin_client, method, url, odd):
    response = getattr(admin_client, method)(url.format(odd), content_type="application/json")
    assert 400 <= response.status_code < 500, (url, odd, response.status_code)
