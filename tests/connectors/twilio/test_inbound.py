"""Inbound Twilio requests: SMS/MMS and WhatsApp in Twilio's real form
parameters, signed as Twilio signs them; refused when the signature is wrong
or missing; stored once however often Twilio retries."""

from __future__ import annotations

import pytest

from cases.models import Case, Customer, Identity, Message
from connectors.models import Channel, InboundEvent
from connectors.providers.twilio import signature
from tests.connectors.twilio.conftest import (
    AUTH_TOKEN,
    inbound_sms,
    inbound_whatsapp,
    post_twilio,
    twilio_signature,
)

pytestmark = pytest.mark.django_db


def test_signature_matches_twilios_documented_example():
    # The example in Twilio's request-validation docs: its auth token, URL,
    # parameters and the signature it shows.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    assert signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12345", url, params) == signature("12345", url, params)


def test_inbound_sms_opens_a_case_for_the_e164_customer(send, sms_channel):
    params = inbound_sms(Body="Where is my order?")

    response = send(sms_channel, params)

    assert response.status_code == 202
    message = Message.objects.get(provider_message_id=params["MessageSid"])
    assert message.text == "Where is my order?"
    assert message.sender_identity.kind == "phone"
    assert message.sender_identity.address == "+14155550100"
    assert message.case.channel_kind == "sms"
    assert InboundEvent.objects.get(dedupe_key=params["MessageSid"]).status == InboundEvent.Status.PROCESSED


def test_mms_media_become_attachments(send, sms_channel):
    params = inbound_sms(
        Body="",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        MediaContentType1="application/pdf",
    )

    assert send(sms_channel, params).status_code == 202

    message = Message.objects.get(provider_message_id=params["MessageSid"])
    assert [a["content_type"] for a in message.attachments] == ["image/jpeg", "application/pdf"]
    assert message.attachments[0]["url"].endswith("/Media/ME1")
    assert message.attachments[1]["name"].endswith(".pdf")


def test_whatsapp_message_uses_the_phone_identity_and_profile_name(send, sms_channel):
    channel = Channel.objects.create(
        key="twilio-wa", name="WA", kind="whatsapp", provider="twilio", secret=AUTH_TOKEN, config={}
    )
    params = inbound_whatsapp()

    assert send(channel, params).status_code == 202

    message = Message.objects.get(provider_message_id=params["MessageSid"])
    assert message.sender_identity.address == "+34600111222"
    assert message.case.channel_kind == "whatsapp"
    assert message.case.customer.display_name == "Ana García"


def test_sms_and_whatsapp_from_one_number_are_one_customer(send, sms_channel):
    wa = Channel.objects.create(key="twilio-wa", name="WA", kind="whatsapp", provider="twilio", secret=AUTH_TOKEN)

    send(sms_channel, inbound_sms(From="+34600111222"))
    send(wa, inbound_whatsapp(From="whatsapp:+34600111222"))

    assert Identity.objects.filter(kind="phone", address="+34600111222").count() == 1
    assert Customer.objects.count() == 1
    assert Case.objects.count() == 2  # one thread per channel, one customer


@pytest.mark.parametrize("bad", ["missing", "wrong", "other-token", "other-url"])
def test_bad_signature_is_refused_and_nothing_is_stored(client, sms_channel, bad):
    params = inbound_sms()
    kwargs = {
        "missing": {"signature": None},
        "wrong": {"signature": "not-a-signature"},
        "other-token": {
            "signature": twilio_signature("x" * 32, f"http://testserver/hooks/{sms_channel.key}/", list(params.items()))
        },
        "other-url": {"url": "https://elsewhere.example/hooks/twilio-sms/"},
    }[bad]

    response = post_twilio(client, sms_channel, params, **kwargs)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0
    assert Message.objects.count() == 0


def test_a_changed_parameter_breaks_the_signature(client, sms_channel):
    params = inbound_sms(Body="original")
    good = twilio_signature(AUTH_TOKEN, f"http://testserver/hooks/{sms_channel.key}/", list(params.items()))

    response = post_twilio(client, sms_channel, params | {"Body": "tampered"}, signature=good)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_configured_webhook_url_is_what_the_signature_covers(send, sms_channel):
    # Behind a proxy Twilio signs the public https URL, not the one Django sees.
    sms_channel.config = sms_channel.config | {"webhook_url": "https://support.example.com/hooks/twilio-sms/"}
    sms_channel.save()

    response = send(sms_channel, inbound_sms(), url="https://support.example.com/hooks/twilio-sms/")

    assert response.status_code == 202


def test_retried_delivery_is_stored_once(send, sms_channel):
    params = inbound_sms()

    first = send(sms_channel, params)
    second = send(sms_channel, params)

    assert (first.status_code, second.status_code) == (202, 200)
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(provider_message_id=params["MessageSid"]).count() == 1


def test_unknown_parameters_are_stored_and_ignored(send, sms_channel):
    params = inbound_sms(Body="hello", BrandNewTwilioField="42", ChannelMetadata='{"x": 1}')

    assert send(sms_channel, params).status_code == 202

    event = InboundEvent.objects.get()
    assert b"BrandNewTwilioField=42" in bytes(event.body)
    assert Message.objects.get().text == "hello"


def test_unknown_kind_of_request_is_stored_ignored_and_visible(send, sms_channel):
    params = {"AccountSid": "AC" + "a" * 32, "EventType": "onSomethingNew", "Payload": "{}"}

    assert send(sms_channel, params).status_code == 202

    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED
    assert Message.objects.count() == 0


def test_message_without_sender_is_a_clear_400_kept_with_its_error(send, sms_channel):
    params = inbound_sms(From="")

    response = send(sms_channel, params)

    assert response.status_code == 400
    assert "From" in response.json()["detail"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED
    assert Message.objects.count() == 0
