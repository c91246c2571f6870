"""Telegram Bot API updates in (secret token checked, deduped by update_id,
normalized) and replies out through ``sendMessage`` on a local Bot API."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import services as case_services
from cases.models import Case, CaseStatus, Customer, Identity, Message
from connectors.models import InboundEvent
from connectors.providers import provider_for
from tests import factories
from tests.connectors.telegram.conftest import BOT_TOKEN

pytestmark = pytest.mark.django_db

ANA = {"id": 111222333, "is_bot": False, "first_name": "Ana", "last_name": "García", "language_code": "es"}
PRIVATE_CHAT = {"id": 111222333, "first_name": "Ana", "last_name": "García", "type": "private"}


def update(update_id: int, **fields) -> dict:
    return {"update_id": update_id, **fields}


def message(message_id: int = 1365, *, text: str | None = "Hola, ¿dónde está mi pedido?", **fields) -> dict:
    body = {"message_id": message_id, "from": ANA, "chat": PRIVATE_CHAT, "date": 1764000000}
    if text is not None:
        body["text"] = text
    return body | fields


def test_a_text_message_opens_a_case_on_the_chat(tg_channel, tg_post):
    response = tg_post(tg_channel, update(10000, message=message()))

    assert response.status_code == 202
    stored = Message.objects.get(channel=tg_channel)
    assert stored.text == "Hola, ¿dónde está mi pedido?"
    assert stored.provider_message_id == "111222333:1365"
    assert stored.sent_at.timestamp() == 1764000000
    case = stored.case
    assert case.thread_key == "111222333"
    assert case.channel_kind == "telegram"
    assert case.language == "es"
    assert case.customer.display_name == "Ana García"
    assert stored.sender_identity.kind == "telegram" and stored.sender_identity.address == "111222333"
    assert InboundEvent.objects.get(dedupe_key="update:10000").status == InboundEvent.Status.PROCESSED


def test_messages_in_one_chat_stay_one_case_and_a_known_name_is_kept(tg_channel, tg_post):
    customer = Customer.objects.create(display_name="Ana G. (VIP)")
    Identity.objects.create(customer=customer, kind="telegram", address="111222333")

    tg_post(tg_channel, update(1, message=message(1)))
    tg_post(tg_channel, update(2, message=message(2, text="¿Hola?")))

    case = Case.objects.get()
    assert case.customer == customer
    assert [m.text for m in case.messages.all()] == ["Hola, ¿dónde está mi pedido?", "¿Hola?"]
    customer.refresh_from_db()
    assert customer.display_name == "Ana G. (VIP)"


def test_a_group_chat_is_the_thread_and_each_member_an_identity(tg_channel, tg_post):
    group = {"id": -1001234567890, "title": "Acme buyers", "type": "supergroup"}
    luis = {"id": 444555666, "is_bot": False, "first_name": "Luis"}

    tg_post(tg_channel, update(1, message=message(7, chat=group)))
    tg_post(tg_channel, update(2, message=message(8, chat=group, text="Same here", **{"from": luis})))

    case = Case.objects.get()
    assert case.thread_key == "-1001234567890"
    assert sorted(m.sender_identity.address for m in case.messages.all()) == ["111222333", "444555666"]


def test_a_photo_keeps_its_largest_size_and_the_caption(tg_channel, tg_post):
    sizes = [
        {"file_id": "AgACAgQAAxk-small", "file_unique_id": "AQADs", "file_size": 1320, "width": 90, "height": 67},
        {"file_id": "AgACAgQAAxk-large", "file_unique_id": "AQADl", "file_size": 92512, "width": 1280, "height": 960},
        {"file_id": "AgACAgQAAxk-medium", "file_unique_id": "AQADm", "file_size": 21077, "width": 320, "height": 240},
    ]

    tg_post(tg_channel, update(3, message=message(text=None, photo=sizes, caption="The box arrived broken")))

    stored = Message.objects.get()
    assert stored.text == "The box arrived broken"
    assert stored.attachments == [
        {"name": "photo.jpg", "content_type": "image/jpeg", "size": 92512, "url": "telegram-file:AgACAgQAAxk-large"}
    ]


def test_a_document_is_an_attachment_with_its_name_and_type(tg_channel, tg_post):
    document = {
        "file_name": "invoice-2026-114.pdf",
        "mime_type": "application/pdf",
        "file_id": "BQACAgQAAxkBAAIBZ2",
        "file_unique_id": "AgADvQ8AAk",
        "file_size": 48213,
    }

    tg_post(tg_channel, update(4, message=message(text=None, document=document)))

    stored = Message.objects.get()
    assert stored.text == ""
    assert stored.attachments == [
        {
            "name": "invoice-2026-114.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "url": "telegram-file:BQACAgQAAxkBAAIBZ2",
        }
    ]


def test_an_edit_is_recorded_on_the_open_case_keeping_the_original(tg_channel, tg_post):
    tg_post(tg_channel, update(5, message=message(20, text="Order 1234")))

    edited = message(20, text="Order 1243", edit_date=1764000300)
    response = tg_post(tg_channel, update(6, edited_message=edited))

    assert response.status_code == 202
    case = Case.objects.get()
    assert [m.text for m in case.messages.all()] == ["Order 1234", "(edited) Order 1243"]
    assert case.messages.last().provider_message_id == "111222333:20:edit:1764000300"


def test_an_edit_of_a_closed_cases_message_opens_nothing(tg_channel, tg_post):
    tg_post(tg_channel, update(5, message=message(20, text="Order 1234")))
    Case.objects.update(status=CaseStatus.CLOSED, resolved_at=timezone.now())

    tg_post(tg_channel, update(6, edited_message=message(20, text="Order 1243", edit_date=1764000300)))

    assert Case.objects.count() == 1 and Message.objects.count() == 1
    assert InboundEvent.objects.get(dedupe_key="update:6").status == InboundEvent.Status.IGNORED


def test_an_edit_of_a_message_never_seen_is_taken_as_the_message(tg_channel, tg_post):
    tg_post(tg_channel, update(6, edited_message=message(21, text="Order 1243", edit_date=1764000300)))

    assert Message.objects.get().text == "Order 1243"


def test_a_button_press_is_a_message_from_the_user_on_its_chat(tg_channel, tg_post):
    bot = {"id": 987654321, "is_bot": True, "first_name": "Acme Support", "username": "acme_support_bot"}
    query = {
        "id": "4382bfdwdsb323b2d9",
        "from": ANA,
        "message": {"message_id": 77, "from": bot, "chat": PRIVATE_CHAT, "date": 1764000000, "text": "Pick one"},
        "chat_instance": "-3018422736423458542",
        "data": "track_order",
    }

    tg_post(tg_channel, update(7, callback_query=query))

    stored = Message.objects.get()
    assert stored.text == "track_order"
    assert stored.provider_message_id == "callback:4382bfdwdsb323b2d9"
    assert stored.case.thread_key == "111222333"


@pytest.mark.parametrize(
    "fields",
    [
        {"channel_post": {"message_id": 3, "chat": {"id": -100777, "type": "channel"}, "date": 1, "text": "News"}},
        {"my_chat_member": {"chat": PRIVATE_CHAT, "from": ANA, "date": 1, "old_chat_member": {}}},
        {"poll": {"id": "5", "question": "?", "options": []}},
        {"message": message(text=None, new_chat_members=[ANA])},
        {"message": message(**{"from": {"id": 9, "is_bot": True, "first_name": "Other bot"}})},
        {},
    ],
    ids=["channel_post", "my_chat_member", "poll", "service_message", "from_a_bot", "empty"],
)
def test_updates_with_nothing_for_an_agent_are_stored_and_ignored(tg_channel, tg_post, fields):
    response = tg_post(tg_channel, update(8, **fields))

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED
    assert not Case.objects.exists()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "tg-secret-but-another-channel"])
def test_a_wrong_or_missing_secret_token_is_refused_and_nothing_stored(tg_channel, tg_post, secret):
    response = tg_post(tg_channel, update(9, message=message()), secret=secret)

    assert response.status_code == 403
    assert response.json()["error"] == "bad_signature"
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_a_redelivered_update_is_stored_once(tg_channel, tg_post):
    assert tg_post(tg_channel, update(10, message=message())).status_code == 202
    response = tg_post(tg_channel, update(10, message=message()))

    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"message": {}}', b'{"update_id": "10"}'])
def test_a_body_telegram_would_not_send_is_a_400_kept_with_its_error(tg_channel, tg_post, body):
    response = tg_post(tg_channel, body)

    assert response.status_code == 400
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED and event.error
    assert not Message.objects.exists()


# -- replies ---------------------------------------------------------------------------


@pytest.fixture
def assigned(tg_channel, tg_post):
    agent = factories.agent("ana", capacity={"telegram": 2})
    tg_post(tg_channel, update(1, message=message()))
    case = Case.objects.get()
    assert case.status == CaseStatus.ASSIGNED and case.assignee_id == agent.pk
    return case


def _reply(case, django_capture_on_commit_callbacks, text="Your order ships today.") -> Message:
    with django_capture_on_commit_callbacks(execute=True):
        sent = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=timezone.now())
    sent.refresh_from_db()
    return sent


def test_a_reply_goes_out_with_send_message(assigned, telegram_api, django_capture_on_commit_callbacks):
    sent = _reply(assigned, django_capture_on_commit_callbacks)

    [request] = telegram_api.requests
    assert request["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    assert request["json"] == {"chat_id": 111222333, "text": "Your order ships today."}
    assert sent.delivery_status == Message.Delivery.SENT
    assert sent.provider_message_id == "111222333:501"


@pytest.mark.parametrize(
    ("status", "description"),
    [(400, "Bad Request: chat not found"), (403, "Forbidden: bot was blocked by the user")],
)
def test_a_refused_reply_is_failed_with_telegrams_description(
    assigned, telegram_api, django_capture_on_commit_callbacks, status, description
):
    telegram_api.answer(status, {"ok": False, "error_code": status, "description": description})

    sent = _reply(assigned, django_capture_on_commit_callbacks)

    assert sent.delivery_status == Message.Delivery.FAILED
    assert description in sent.delivery_error


def _send_now(case) -> object:
    reply = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        channel=case.channel,
        channel_kind=case.channel_kind,
        text="Hello",
        author_agent=case.assignee,
        delivery_status=Message.Delivery.QUEUED,
        created_at=timezone.now(),
    )
    return provider_for("telegram").send(channel=case.channel, message=reply)


def test_flood_control_is_a_retry_with_telegrams_wait(assigned, telegram_api):
    telegram_api.answer(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )

    result = _send_now(assigned)

    assert result.status == "retry"
    assert "retry after 7" in result.error


@pytest.mark.parametrize("answer", [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}), (500, None)])
def test_a_server_error_or_a_dropped_connection_is_a_retry(assigned, telegram_api, answer):
    telegram_api.answer(*answer)

    result = _send_now(assigned)

    assert result.status == "retry"
    assert result.error


def test_telegram_unreachable_is_a_retry(assigned):
    assigned.channel.config = assigned.channel.config | {"api_base": "http://127.0.0.1:9"}

    result = _send_now(assigned)

    assert result.status == "retry"


def test_a_channel_without_a_bot_token_fails_the_reply_clearly(assigned, telegram_api):
    assigned.channel.config = {"api_base": telegram_api.base}

    result = _send_now(assigned)

    assert result.status == "failed" and "bot_token" in result.error
    assert telegram_api.requests == []


# -- hostile input ---------------------------------------------------------------------

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.sampled_from(["\x00", "\ud800", ""])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "message_id": st.one_of(st.integers(), values),
        "from": st.one_of(st.just(ANA), values),
        "chat": st.one_of(st.just(PRIVATE_CHAT), values),
        "date": st.one_of(st.integers(), values),
        "edit_date": st.one_of(st.integers(), values),
        "text": values,
        "caption": values,
        "photo": st.one_of(st.lists(values, max_size=3), values),
        "document": values,
        "data": values,
        "id": values,
    },
)
updates = st.fixed_dictionaries(
    {"update_id": st.one_of(st.integers(min_value=-(2**63), max_value=2**63), values)},
    optional={key: st.one_of(message_like, values) for key in ("message", "edited_message", "callback_query")},
)


@FUZZ
@given(body=st.one_of(st.binary(max_size=100), updates.map(lambda u: json.dumps(u).encode())))
def test_fuzzed_updates_never_5xx_and_what_is_stored_has_an_outcome(tg_channel, tg_post, body):
    response = tg_post(tg_channel, body)

    assert response.status_code in (200, 202, 400), response.content
    event_id = response.json().get("event_id")
    if event_id is not None:
        event = InboundEvent.objects.get(pk=event_id)
        assert event.status != InboundEvent.Status.RECEIVED
        assert event.status != InboundEvent.Status.FAILED or event.error
