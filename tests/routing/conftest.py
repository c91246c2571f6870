"""Fixtures the routing feature tests share."""

import pytest
from django.utils import timezone

from tests import factories


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def chan(db):
    return factories.channel("web", default_queue=factories.queue("General"))
