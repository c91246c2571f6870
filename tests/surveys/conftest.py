"""Fixtures for the survey tests: the Twilio and SMTP loopback fakes of the
connector tests, a resolver that runs the work scheduled at commit, and a
known site address for the links."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services as case_services
from tests.connectors.email.conftest import mailbox, post_mail, smtp_server  # noqa: F401 (fixtures)
from tests.connectors.telegram.conftest import telegram_api, tg_channel, tg_post  # noqa: F401 (fixtures)
from tests.connectors.twilio.conftest import send, sms_channel, twilio_api  # noqa: F401 (fixtures)

SITE = "https://support.example.com"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"SITE_URL": SITE, "SURVEYS_ENABLED": True, "SURVEY_REPLY_DAYS": 7}


@pytest.fixture
def resolve(django_capture_on_commit_callbacks):
    """Resolve a case as its agent, running the work scheduled at commit
    (the survey is sent then)."""

    def _resolve(case, now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return case_services.resolve_case(case_id=case.pk, agent=case.assignee, now=now or timezone.now())

    return _resolve
