"""Facebook Page feed comments become cases in the social queue, one per
post, answered publicly or privately."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.models import Case, Identity, Message
from connectors.models import InboundEvent
from tests import factories
from tests.connectors.meta.conftest import PAGE_ID, feed_comment, meta_channel, page_body

pytestmark = pytest.mark.django_db
POST = f"{PAGE_ID}_900"


@pytest.fixture
def social_queue():
    return factories.queue("Social", auto_accept=True)


@pytest.fixture
def channel(social_queue):
    return meta_channel("page", "messenger", queue=social_queue)


def test_comment_opens_a_social_case_in_the_channels_queue_with_the_post_as_thread(send_meta, channel, social_queue):
    assert send_meta(channel, page_body(changes=[feed_comment(f"{POST}_c1")])).json()["status"] == "accepted"
    message = Message.objects.get()
    assert message.text == "Great!"
    case = message.case
    assert case.channel_kind == "social"
    assert case.thread_key == f"fbpost:{POST}"
    assert case.queue_id == social_queue.pk
    assert case.customer.display_name == "Jane Doe"
    assert Identity.objects.get(customer=case.customer).kind == "facebook"


def test_comments_on_one_post_join_its_case_and_are_stored_once(send_meta, channel):
    body = page_body(changes=[feed_comment(f"{POST}_c1"), feed_comment(f"{POST}_c2", author="5550002", text="Me too")])
    send_meta(channel, body)
    send_meta(channel, body)
    assert Case.objects.count() == 1
    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("channel_kind", flat=True)) == {"social"}


def test_the_pages_own_comments_edits_and_other_fields_are_ignored(send_meta, channel):
    body = page_body(
        changes=[
            feed_comment(f"{POST}_c1", author=PAGE_ID),
            feed_comment(f"{POST}_c2", verb="edited"),
            {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "like"}},
            {"field": "ratings", "value": {"item": "rating"}},
        ]
    )
    send_meta(channel, body)
    assert Message.objects.count() == 0
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


@pytest.mark.parametrize("mode", ["public", "private"])
def test_reply_answers_the_latest_comment(
    send_meta, channel, agent_for_all, graph_api, django_capture_on_commit_callbacks, mode
):
    base, api = graph_api
    channel.config.update(api_base=base, comment_reply=mode)
    channel.save()
    send_meta(channel, page_body(changes=[feed_comment(f"{POST}_c1")]))
    send_meta(channel, page_body(changes=[feed_comment(f"{POST}_c2", text="Hello?")]))
    with django_capture_on_commit_callbacks(execute=True):
        reply = case_services.send_reply(
            case_id=Case.objects.get().pk, agent=agent_for_all, text="Thanks Jane!", now=timezone.now()
        )
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    [request] = api.requests
    if mode == "public":
        assert request["path"] == f"/v19.0/{POST}_c2/comments"
        assert request["body"] == {"message": "Thanks Jane!"}
    else:
        assert request["path"] == "/v19.0/me/messages"
        assert request["body"] == {"recipient": {"comment_id": f"{POST}_c2"}, "message": {"text": "Thanks Jane!"}}
    assert request["headers"]["Authorization"] == "Bearer EAAG-test-token"
