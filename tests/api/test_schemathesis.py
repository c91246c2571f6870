"""Schemathesis (a tool no one here wrote) against our OpenAPI schema, with
an admin's token: no 5xx, and answers match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from agents.models import Role
from tests import factories

# Once, against the production database (PostgreSQL leg): PostgreSQL is
# where an odd value (an id out of range) could make a 5xx that SQLite would not.
pytestmark = pytest.mark.postgres

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def admin_token(db, settings):
    # Not rate limited: a 429 would hide what a write does.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"write": "1000000/minute"}}
    # Called through the WSGI handler (not Django's test client), a request's
    # end would close the database connection and with it the test's
    # transaction; the test client disconnects the same handlers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield Token.objects.create(user=factories.user("root", role=Role.ADMIN)).key
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case, admin_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
