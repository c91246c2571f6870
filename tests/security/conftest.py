"""The email fixtures (a mailbox channel, signed raw-MIME posts, files under a
temporary MEDIA_ROOT) and Jiří, a customer, serve the customer-data tests,
and the browser fixtures (the ASGI server, Chromium) the content security
policy's browser test."""

import pytest
from django.utils import timezone

from cases import customers
from cases.models import Identity
from tests import factories
from tests.browser.conftest import asgi_server, browser, context, db_thread, page, playwright  # noqa: F401
from tests.connectors.email.conftest import mailbox, media_in_tmp, post_mail  # noqa: F401
from tests.security.stored import mail_with_a_file


@pytest.fixture
def jiri(mailbox, post_mail, client, django_capture_on_commit_callbacks):  # noqa: F811 (fixtures)
    """Jiří wrote by email (with a file) and through the JSON API channel, and
    has a phone number too; Ben, another customer, wrote once."""
    post_mail(mailbox, mail_with_a_file())
    api = factories.channel("shop")
    with django_capture_on_commit_callbacks(execute=True):
        factories.post_webhook(
            client,
            api,
            factories.payload(
                **{"from": {"kind": "email", "address": "jiri@example.cz", "name": "Jiří Novák"}},
                text="Also the plumtree seeds",
                thread="t-2",
            ),
        )
        factories.post_webhook(
            client,
            api,
            factories.payload(
                **{"from": {"kind": "email", "address": "ben@example.com", "name": "Ben Other"}},
                text="unrelated banana",
            ),
        )
    customer = Identity.objects.get(address="jiri@example.cz").customer
    customers.link_identity(customer_id=customer.pk, kind="phone", address="+420601234567", now=timezone.now())
    return customer
