"""Everything a customer writes reaches the workspace as text (or HTML
sanitized when stored): script tags and event-handler attributes are posted
through each channel kind — the web chat widget, the email hook, Twilio SMS,
Meta WhatsApp, Telegram and the generic JSON hook, each signed as its
provider signs — and the agent's page runs none of them (no dialog, no
``window.__pwned``) and shows them as the customer typed them."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from connectors.models import Channel
from connectors.providers import generic_json, meta, twilio
from tests import factories
from tests.browser.test_agent_workspace import accept_first_offer, open_workspace
from tests.browser.test_webchat import browser, open_shop  # noqa: F401 (the widget's Chromium)

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__pwned='script'</script>"
IMG = "<img src=x onerror=\"window.__pwned='img';alert('img')\">"
TEXT = f"Hi {SCRIPT} {IMG} <svg onload=alert('svg')></svg> my order"
NAME = "Eve<img src=x onerror=alert('name')>"
HTML = f"<p>Hi there</p>{SCRIPT}{IMG}<a href=\"javascript:alert('a')\" onclick=\"alert('click')\">link</a>"
TWILIO_URL = "https://support.example.com/hooks/sms/"


def _post(server, channel: Channel, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    request = urllib.request.Request(  # noqa: S310 (http to our own loopback server)
        f"{server.url}/hooks/{channel.key}/",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, **headers},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status in (200, 202), response.read()


def generic(server, channel: Channel) -> None:
    raw = json.dumps(
        {"id": "x-1", "from": {"kind": "email", "address": "eve@example.com", "name": NAME}, "text": TEXT, "html": HTML}
    ).encode()
    _post(
        server,
        channel,
        raw,
        "application/json",
        {generic_json.SIGNATURE_HEADER: generic_json.sign(channel.secret, raw)},
    )


def email(server, channel: Channel) -> None:
    msg = EmailMessage()
    msg["From"] = f'"{NAME}" <eve@example.com>'
    msg["To"] = "support@acme.test"
    msg["Subject"] = f"Order {IMG}"
    msg["Message-ID"] = "<xss-1@example.com>"
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    raw = msg.as_bytes()
    _post(
        server, channel, raw, "message/rfc822", {generic_json.SIGNATURE_HEADER: generic_json.sign(channel.secret, raw)}
    )


def sms(server, channel: Channel) -> None:
    sid = "SM" + "b" * 32
    params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "a" * 32), ("From", "+14155550100")]
    params += [("To", "+15005550006"), ("Body", TEXT), ("NumMedia", "0")]
    headers = {"X-Twilio-Signature": twilio.signature(channel.secret, TWILIO_URL, params)}
    _post(server, channel, urllib.parse.urlencode(params).encode(), "application/x-www-form-urlencoded", headers)


def whatsapp(server, channel: Channel) -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": NAME}, "wa_id": "16505551234"}],
        "messages": [
            {
                "from": "16505551234",
                "id": "wamid.xss",
                "timestamp": "1764000000",
                "type": "text",
                "text": {"body": TEXT},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    raw = json.dumps(body).encode()
    _post(server, channel, raw, "application/json", {meta.SIGNATURE_HEADER: meta.sign(channel.secret, raw)})


def telegram(server, channel: Channel) -> None:
    who = {"id": 4242, "is_bot": False, "first_name": NAME}
    update = {
        "update_id": 1,
        "message": {"message_id": 7, "from": who, "chat": {**who, "type": "private"}, "date": 1764000000, "text": TEXT},
    }
    _post(
        server,
        channel,
        json.dumps(update).encode(),
        "application/json",
        {"X-Telegram-Bot-Api-Secret-Token": channel.secret},
    )


CHANNELS = {
    "api": ({"provider": "generic_json"}, generic),
    "email": ({"provider": "email", "config": {"address": "support@acme.test"}}, email),
    "sms": ({"provider": "twilio", "config": {"account_sid": "AC" + "a" * 32, "webhook_url": TWILIO_URL}}, sms),
    "whatsapp": ({"provider": "meta", "config": {"verify_token": "v", "access_token": "t"}}, whatsapp),
    "telegram": ({"provider": "telegram", "config": {"bot_token": "1:x", "api_base": "http://127.0.0.1:9"}}, telegram),
}


def _world(kind: str) -> Channel:
    fields, _ = CHANNELS.get(kind, ({"provider": "webchat"}, None))
    channel = Channel.objects.create(
        key=f"xss-{kind}", name=f"XSS {kind}", kind=kind, default_queue=factories.queue("Everything"), **fields
    )
    factories.agent("ana", capacity={kind: 2})
    return channel


def _watch(page: Page) -> list[str]:
    dialogs: list[str] = []

    def seen(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    return dialogs


def _nothing_ran(page: Page, dialogs: list[str]) -> None:
    main = page.locator("main")
    expect(main.locator("script")).to_have_count(0)
    expect(main.locator("[onerror], [onload], [onclick], svg, a[href^=javascript]")).to_have_count(0)
    # A surviving onerror would have run once the broken images finished loading.
    page.wait_for_function("() => [...document.querySelectorAll('main img')].every((img) => img.complete)")
    page.wait_for_timeout(200)  # let any timer or handler that slipped through fire
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []


@pytest.mark.parametrize("kind", list(CHANNELS))
def test_hostile_text_from_a_provider_channel_is_shown_as_text(page: Page, asgi_server, db_thread, kind):
    channel = db_thread(_world, kind)
    dialogs = _watch(page)
    open_workspace(page, "ana")

    CHANNELS[kind][1](asgi_server, channel)
    offer = page.locator("#offers .offer")
    expect(offer.locator(".preview")).to_contain_text(SCRIPT)
    expect(offer.locator(".preview")).to_contain_text(IMG)
    accept_first_offer(page)
    body = page.locator("#case .message.in .body")
    expect(body).to_contain_text(f"Hi {SCRIPT} {IMG}")
    if kind != "sms":  # an SMS carries no name
        expect(page.locator("#case .case-head .meta")).to_contain_text(NAME)
        expect(page.locator("#customer h2")).to_contain_text(NAME)
    if kind == "email":
        expect(page.locator("#cases .case-item .subject")).to_have_text(f"Order {IMG}")
    _nothing_ran(page, dialogs)


def test_hostile_text_typed_into_the_web_chat_widget_is_shown_as_text(
    page: Page,
    browser,  # noqa: F811 (the fixture imported above)
    asgi_server,
    db_thread,
):
    def world():
        Channel.objects.create(
            key="shop-chat",
            name="Shop chat",
            kind="web_chat",
            provider="webchat",
            default_queue=factories.queue("Chat"),
        )
        factories.agent("ana")

    db_thread(world)
    agent_context = browser.new_context(base_url=asgi_server.url, viewport={"width": 1366, "height": 768})
    agent_page = agent_context.new_page()
    dialogs = _watch(agent_page)
    open_workspace(agent_page, "ana")

    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    form = page.get_by_role("form", name="Before we start")
    form.get_by_label("Name").fill(NAME)
    form.get_by_role("button", name="Start chat").click()
    page.get_by_label("Your message").fill(TEXT)
    page.get_by_role("button", name="Send", exact=True).click()

    expect(agent_page.locator("#offers .offer .preview")).to_have_text(TEXT)
    expect(agent_page.locator("#offers .offer strong")).to_have_text(NAME)
    accept_first_offer(agent_page)
    expect(agent_page.locator("#case .message.in .body")).to_have_text(TEXT)
    expect(agent_page.locator("#customer h2")).to_contain_text(NAME)
    _nothing_ran(agent_page, dialogs)
    agent_context.close()
