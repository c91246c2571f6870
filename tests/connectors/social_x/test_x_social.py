"""X: the CRC check, signed account activity events (mentions and DMs) into
social cases, replies as public posts or DMs on a local X API, and the time
from the post to the first answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import services as case_services
from cases.models import Case, CaseEvent, CaseStatus, Message
from connectors.models import Channel, InboundEvent
from connectors.providers import provider_for
from tests import factories
from tests.connectors.social_x.conftest import ACCESS_TOKEN, BRAND_ID, CONSUMER_SECRET

pytestmark = pytest.mark.django_db

POSTED = "Mon Nov 23 10:00:00 +0000 2026"
POSTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CUSTOMER = {
    "id": 6253282,
    "id_str": "6253282",
    "name": "Carla Méndez",
    "screen_name": "carla_m",
    "location": "Madrid",
    "followers_count": 120,
}
BRAND = {"id": 2244994945, "id_str": BRAND_ID, "name": "Twitter Dev", "screen_name": "TwitterDev"}


def tweet(tweet_id: str, text: str = "@TwitterDev my order never arrived", *, user=CUSTOMER, **fields) -> dict:
    body = {
        "created_at": POSTED,
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": user,
        "is_quote_status": False,
        "entities": {
            "hashtags": [],
            "urls": [],
            "user_mentions": [
                {"screen_name": "TwitterDev", "name": "Twitter Dev", "id": 2244994945, "id_str": BRAND_ID}
            ],
            "symbols": [],
        },
        "lang": "en",
        "timestamp_ms": "1795428000000",
    }
    return body | fields


def mentions(*tweets: dict) -> dict:
    return {"for_user_id": BRAND_ID, "user_has_blocked": False, "tweet_create_events": list(tweets)}


def dm(event_id: str, text: str = "Hi, order 1234 please", *, sender: str = "6253282") -> dict:
    recipient = BRAND_ID if sender != BRAND_ID else "6253282"
    return {
        "for_user_id": BRAND_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event_id,
                "created_timestamp": "1795428000000",
                "message_create": {
                    "target": {"recipient_id": recipient},
                    "sender_id": sender,
                    "source_app_id": "268278",
                    "message_data": {
                        "text": text,
                        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                    },
                },
            }
        ],
        "apps": {"268278": {"id": "268278", "name": "Twitter Web Client", "url": "https://twitter.com"}},
        "users": {
            "6253282": {
                "id": "6253282",
                "created_timestamp": "1185926400000",
                "name": "Carla Méndez",
                "screen_name": "carla_m",
            },
            BRAND_ID: {
                "id": BRAND_ID,
                "created_timestamp": "1386720000000",
                "name": "Twitter Dev",
                "screen_name": "TwitterDev",
            },
        },
    }


# -- the CRC check -------------------------------------------------------------------


def test_the_crc_challenge_is_answered_with_the_hmac_of_the_token(client, x_channel):
    response = client.get(f"/hooks/{x_channel.key}/", {"crc_token": "cXW9UN0rWpLwrCaoCsvVNmTwN2Hl4dzHTq0pXVP7"})

    assert response.status_code == 200
    digest = hmac.new(CONSUMER_SECRET.encode(), b"cXW9UN0rWpLwrCaoCsvVNmTwN2Hl4dzHTq0pXVP7", hashlib.sha256).digest()
    assert response.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    assert not InboundEvent.objects.exists()


def test_a_crc_check_without_a_token_is_a_400(client, x_channel):
    response = client.get(f"/hooks/{x_channel.key}/")

    assert response.status_code == 400
    assert "crc_token" in response.json()["detail"]


def test_get_on_a_provider_without_a_handshake_is_405_and_unknown_channels_404(client):
    channel = factories.channel("plain")

    response = client.get(f"/hooks/{channel.key}/", {"crc_token": "x"})
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert not InboundEvent.objects.exists()
    assert client.get("/hooks/nobody/", {"crc_token": "x"}).status_code == 404


# -- mentions and DMs in ---------------------------------------------------------------


def test_a_mention_becomes_a_social_case_in_the_channels_queue(x_channel, x_post):
    response = x_post(x_channel, mentions(tweet("1850000000000000001")))

    assert response.status_code == 202
    stored = Message.objects.get()
    assert stored.text == "@TwitterDev my order never arrived"
    assert stored.provider_message_id == "tweet:1850000000000000001"
    assert stored.sent_at == POSTED_AT
    case = stored.case
    assert case.channel_kind == "social" and case.queue == x_channel.default_queue
    assert case.thread_key == "tweet:1850000000000000001"
    assert case.customer.display_name == "Carla Méndez"
    assert (stored.sender_identity.kind, stored.sender_identity.address) == ("twitter", "6253282")


def test_a_long_post_keeps_its_full_text(x_channel, x_post):
    full = "@TwitterDev " + "my parcel was left in the rain " * 8
    x_post(
        x_channel,
        mentions(tweet("1850000000000000002", full[:140] + "…", truncated=True, extended_tweet={"full_text": full})),
    )

    assert Message.objects.get().text == full


def test_each_mention_in_one_delivery_is_its_own_case_and_stored_once(x_channel, x_post):
    other = CUSTOMER | {"id": 77, "id_str": "77", "name": "Dev Null"}
    first, second = tweet("1850000000000000003"), tweet("1850000000000000004", user=other)

    assert x_post(x_channel, mentions(first, second)).status_code == 202
    # X delivers the second again, now together with a third.
    assert x_post(x_channel, mentions(second, tweet("1850000000000000005", user=other))).status_code == 202

    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == [
        "tweet:1850000000000000003",
        "tweet:1850000000000000004",
        "tweet:1850000000000000005",
    ]
    assert Case.objects.count() == 3


def test_a_reply_in_the_conversation_stays_on_its_case(x_channel, x_post):
    x_post(x_channel, mentions(tweet("1850000000000000006")))
    follow_up = tweet(
        "1850000000000000007",
        "@TwitterDev still nothing",
        in_reply_to_status_id=1850000000000000006,
        in_reply_to_status_id_str="1850000000000000006",
    )

    x_post(x_channel, mentions(follow_up))

    case = Case.objects.get()
    assert case.messages.count() == 2


@pytest.mark.parametrize(
    "event",
    [
        mentions(tweet("1850000000000000010", "Shipping update for everyone", user=BRAND)),
        mentions(tweet("1850000000000000011", retweeted_status={"id_str": "1", "text": "x"})),
        mentions(tweet("1850000000000000012", "just a post", entities={"user_mentions": []})),
        {"for_user_id": BRAND_ID, "favorite_events": [{"id": "a7ba59eab0bfcba386f7acedac279542"}]},
        {"for_user_id": BRAND_ID, "follow_events": [{"type": "follow", "created_timestamp": "1517588749178"}]},
        {"for_user_id": BRAND_ID, "direct_message_indicate_typing_events": [{"created_timestamp": "1"}]},
        dm("1850000000000000013", "Thanks, we are on it", sender=BRAND_ID),
        {"for_user_id": "999", "tweet_create_events": [tweet("1850000000000000014")]},
    ],
    ids=["own_post", "repost", "no_mention", "like", "follow", "typing", "own_dm_echo", "another_account"],
)
def test_events_with_nothing_for_an_agent_are_stored_and_ignored(x_channel, x_post, event):
    response = x_post(x_channel, event)

    assert response.status_code == 202
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert not Case.objects.exists()


def test_a_direct_message_is_a_private_thread_with_the_sender(x_channel, x_post):
    x_post(x_channel, dm("1850000000000000020"))

    stored = Message.objects.get()
    assert stored.text == "Hi, order 1234 please"
    assert stored.provider_message_id == "dm:1850000000000000020"
    assert stored.case.thread_key == "dm:6253282"
    assert stored.case.customer.display_name == "Carla Méndez"
    assert stored.sent_at == datetime.fromtimestamp(1795428000, tz=UTC)


@pytest.mark.parametrize("signature", [None, "", "sha256=AAAA", "sha256=" + base64.b64encode(b"x" * 32).decode()])
def test_a_wrong_or_missing_signature_is_refused_and_nothing_stored(x_channel, x_post, signature):
    response = x_post(x_channel, mentions(tweet("1850000000000000030")), signature=signature)

    assert response.status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_a_body_signed_with_another_secret_is_refused(x_channel, x_post):
    raw = json.dumps(mentions(tweet("1850000000000000031"))).encode()
    digest = hmac.new(b"another-apps-secret", raw, hashlib.sha256).digest()

    response = x_post(x_channel, raw, signature="sha256=" + base64.b64encode(digest).decode())

    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_redelivery_is_stored_once(x_channel, x_post):
    event = mentions(tweet("1850000000000000032"))

    assert x_post(x_channel, event).status_code == 202
    assert x_post(x_channel, event).status_code == 200

    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.parametrize(
    "body", [b"<xml/>", b"[]", b'{"tweet_create_events": []}', b'{"for_user_id": "1", "tweet_create_events": 5}']
)
def test_a_body_x_would_not_send_is_a_400_kept_with_its_error(x_channel, x_post, body):
    response = x_post(x_channel, body)

    assert response.status_code == 400
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED


# -- replies and the reaction time -----------------------------------------------------------


@pytest.fixture
def mention_case(x_channel, x_post):
    agent = factories.agent("ana", capacity={"social": 2})
    x_post(x_channel, mentions(tweet("1850000000000000040")))
    case = Case.objects.get()
    assert case.status == CaseStatus.ASSIGNED and case.assignee_id == agent.pk
    return case


def _reply(
    case, django_capture_on_commit_callbacks, *, after: timedelta, text="Sorry! Sending a new one today."
) -> Message:
    with django_capture_on_commit_callbacks(execute=True):
        sent = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=POSTED_AT + after)
    sent.refresh_from_db()
    return sent


def test_a_public_reply_answers_the_post_and_the_reaction_time_is_recorded(
    mention_case, x_api, client, django_capture_on_commit_callbacks
):
    sent = _reply(mention_case, django_capture_on_commit_callbacks, after=timedelta(minutes=15))

    [request] = x_api.requests
    assert request["path"] == "/2/tweets"
    assert request["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request["json"] == {
        "text": "Sorry! Sending a new one today.",
        "reply": {"in_reply_to_tweet_id": "1850000000000000040"},
    }
    assert sent.delivery_status == Message.Delivery.SENT
    assert sent.provider_message_id == f"tweet:{x_api.next_id}"
    event = mention_case.events.get(kind=CaseEvent.Kind.REPLY_SENT)
    assert event.data["reaction_seconds"] == 900
    assert event.data["posted_at"] == POSTED_AT.isoformat()

    client.force_login(mention_case.assignee.user)
    detail = client.get(f"/api/v1/cases/{mention_case.pk}/")
    assert detail.status_code == 200
    assert detail.json()["social_reaction_seconds"] == 900

    # Only the first answer counts.
    _reply(mention_case, django_capture_on_commit_callbacks, after=timedelta(hours=2), text="It shipped.")
    assert client.get(f"/api/v1/cases/{mention_case.pk}/").json()["social_reaction_seconds"] == 900


def test_the_customers_answer_to_our_reply_joins_the_case(
    mention_case, x_channel, x_post, django_capture_on_commit_callbacks
):
    sent = _reply(mention_case, django_capture_on_commit_callbacks, after=timedelta(minutes=1))
    our_id = sent.provider_message_id.removeprefix("tweet:")

    x_post(
        x_channel,
        mentions(tweet("1850000000000000041", "@TwitterDev thanks!", in_reply_to_status_id_str=our_id)),
    )

    assert Case.objects.count() == 1
    assert mention_case.messages.filter(direction=Message.Direction.INBOUND).count() == 2


def test_a_private_answer_to_a_mention_when_the_channel_says_so(
    mention_case, x_channel, x_api, django_capture_on_commit_callbacks
):
    Channel.objects.filter(pk=x_channel.pk).update(config=x_channel.config | {"reply_as": "dm"})

    sent = _reply(mention_case, django_capture_on_commit_callbacks, after=timedelta(minutes=3))

    [request] = x_api.requests
    assert request["path"] == "/2/dm_conversations/with/6253282/messages"
    assert request["json"] == {"text": "Sorry! Sending a new one today."}
    assert sent.delivery_status == Message.Delivery.SENT and sent.provider_message_id.startswith("dm:")
    assert mention_case.events.get(kind=CaseEvent.Kind.REPLY_SENT).data["reaction_seconds"] == 180


def test_a_dm_case_is_answered_by_dm(x_channel, x_post, x_api, django_capture_on_commit_callbacks):
    factories.agent("ana", capacity={"social": 2})
    x_post(x_channel, dm("1850000000000000050"))
    case = Case.objects.get()

    sent = _reply(case, django_capture_on_commit_callbacks, after=timedelta(minutes=1))

    assert [r["path"] for r in x_api.requests] == ["/2/dm_conversations/with/6253282/messages"]
    assert sent.delivery_status == Message.Delivery.SENT


def test_a_refused_reply_is_failed_with_xs_detail(mention_case, x_api, django_capture_on_commit_callbacks):
    x_api.answer(
        403,
        {
            "title": "Forbidden",
            "type": "about:blank",
            "status": 403,
            "detail": "You are not permitted to reply to this conversation.",
        },
    )

    sent = _reply(mention_case, django_capture_on_commit_callbacks, after=timedelta(minutes=1))

    assert sent.delivery_status == Message.Delivery.FAILED
    assert "not permitted to reply" in sent.delivery_error


def _send_now(case):
    reply = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        channel=case.channel,
        channel_kind=case.channel_kind,
        text="Hello",
        author_agent=case.assignee,
        delivery_status=Message.Delivery.QUEUED,
        created_at=POSTED_AT,
    )
    return provider_for("x_social").send(channel=case.channel, message=reply)


@pytest.mark.parametrize(
    "answer",
    [
        (429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
        (503, {"errors": [{"message": "Service Unavailable"}]}),
        (500, None),
    ],
    ids=["rate_limited", "unavailable", "hung_up"],
)
def test_rate_limits_server_errors_and_dropped_connections_are_retries(mention_case, x_api, answer):
    x_api.answer(*answer)

    result = _send_now(mention_case)

    assert result.status == "retry" and result.error


def test_a_channel_without_a_token_fails_the_reply_clearly(mention_case, x_api):
    mention_case.channel.config = {"api_base": x_api.base}

    result = _send_now(mention_case)

    assert result.status == "failed" and "access_token" in result.error
    assert x_api.requests == []


# -- hostile input ---------------------------------------------------------------------

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.sampled_from(["\x00", "123", ""])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)
tweet_like = st.fixed_dictionaries(
    {},
    optional={
        "id_str": st.one_of(st.sampled_from(["1850000000000000099", "12"]), values),
        "user": st.one_of(st.just(CUSTOMER), st.just(BRAND), values),
        "text": values,
        "created_at": st.one_of(st.just(POSTED), st.just("Feb 30 99:99:99 +9999 0"), values),
        "entities": st.one_of(st.just({"user_mentions": [{"id_str": BRAND_ID}]}), values),
        "extended_tweet": values,
        "in_reply_to_status_id_str": values,
        "in_reply_to_user_id_str": st.one_of(st.just(BRAND_ID), values),
    },
)
dm_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.just("message_create"), values),
        "id": st.one_of(st.just("1850000000000000098"), values),
        "created_timestamp": st.one_of(st.just("99999999999999999999"), values),
        "message_create": st.one_of(
            st.fixed_dictionaries({"sender_id": st.one_of(st.just("6253282"), values), "message_data": values}), values
        ),
    },
)
events = st.fixed_dictionaries(
    {"for_user_id": st.one_of(st.just(BRAND_ID), values)},
    optional={
        "tweet_create_events": st.one_of(st.lists(tweet_like, max_size=3), values),
        "direct_message_events": st.one_of(st.lists(dm_like, max_size=3), values),
        "users": values,
    },
)


@FUZZ
@given(body=st.one_of(st.binary(max_size=100), events.map(lambda e: json.dumps(e).encode())))
def test_fuzzed_events_never_5xx_and_what_is_stored_has_an_outcome(x_channel, x_post, body):
    response = x_post(x_channel, body)

    assert response.status_code in (200, 202, 400), response.content
    event_id = response.json().get("event_id")
    if event_id is not None:
        event = InboundEvent.objects.get(pk=event_id)
        assert event.status != InboundEvent.Status.RECEIVED
        assert event.status != InboundEvent.Status.FAILED or event.error


@FUZZ
@given(token=st.text(max_size=60))
def test_any_crc_token_gets_an_answer_not_an_error(client, x_channel, token):
    response = client.get(f"/hooks/{x_channel.key}/", {"crc_token": token})

    assert response.status_code in (200, 400)
