"""The web chat widget in a real browser: a customer's page embeds it with one
<script> tag served from the project's static files; the customer fills the
pre-chat form and writes; an agent in the workspace (/agent/) accepts and
answers; the customer sees the answer and the agent's name live, and a
reload keeps the conversation. With nobody serving the chat queue the widget
offers the offline form, whose message becomes an email-style case."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case
from connectors.models import Channel
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_agent_workspace import accept_first_offer, open_workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(playwright):
    """Chromium as the suite launches it, but without Local Network Access
    checks: the shop page here is served by Playwright (no IP address of its
    own, so "public" to Chromium) and the chat server is on loopback, which
    Chromium would block. On the web both are public sites."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run tests/setup-system.sh (Debian's 'chromium' package)")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"]
    )
    yield browser
    browser.close()


def shop_page(server, key: str, **data) -> str:
    """A customer's website page embedding the widget with one script tag."""
    attributes = " ".join(f'data-{name.replace("_", "-")}="{value}"' for name, value in data.items())
    return (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>"
        f'<script src="{server.url}/static/connectors/webchat.js" data-widget-key="{key}" {attributes} async>'
        "</script></body></html>"
    )


def open_shop(page: Page, server, key: str = "shop-chat", **data) -> None:
    html = shop_page(server, key, **data)
    page.route(f"{server.url}/shop/", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(f"{server.url}/shop/")
    expect(page.locator(".sb")).to_have_attribute("data-connection", "live")


def widget_channel(with_agent: bool = True):
    queue = factories.queue("Chat")
    channel = Channel.objects.create(
        key="shop-chat", name="Shop chat", kind="web_chat", provider="webchat", default_queue=queue
    )
    if with_agent:
        factories.agent("ana")
    return channel


def test_customer_chats_agent_answers_customer_sees_it_live(page: Page, browser, asgi_server, db_thread, screenshots):
    db_thread(widget_channel)

    # The agent is at work first (so someone serves the chat queue).
    agent_context = browser.new_context(base_url=asgi_server.url, viewport={"width": 1366, "height": 768})
    agent_page = agent_context.new_page()
    open_workspace(agent_page, "ana")

    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    form = page.get_by_role("form", name="Before we start")
    expect(form).to_be_visible()
    form.get_by_label("Name").fill("María")
    form.get_by_label("Email (optional)").fill("maria@example.com")
    form.get_by_role("button", name="Start chat").click()

    page.get_by_label("Your message").fill("Hola, my order #77 has not arrived <b>yet</b>")
    page.get_by_role("button", name="Send", exact=True).click()
    conversation = page.get_by_label("Conversation")
    expect(conversation.locator(".msg.in:not(.pending)")).to_have_count(1)
    expect(page.get_by_role("status")).to_contain_text("Waiting for an agent")

    # The agent gets the offer, accepts and answers.
    offer = agent_page.locator("#offers .offer")
    expect(offer).to_have_count(1)
    expect(offer.locator(".preview")).to_have_text("Hola, my order #77 has not arrived <b>yet</b>")
    accept_first_offer(agent_page)
    expect(page.get_by_role("status")).to_have_text("Ana is here to help.")
    agent_page.get_by_label("Reply").fill("Hi María, I'm checking with the courier.")
    agent_page.get_by_role("button", name="Send").click()
    expect(agent_page.locator("#case .message.out")).to_have_count(1)

    # The customer sees it, with the agent's name; their own text stayed text.
    reply = conversation.locator(".msg.out")
    expect(reply).to_have_count(1)
    expect(reply.locator(".body")).to_have_text("Hi María, I'm checking with the courier.")
    expect(reply.locator(".who")).to_have_text("Ana")
    expect(conversation.locator(".msg.in .body")).to_have_text("Hola, my order #77 has not arrived <b>yet</b>")
    page.screenshot(path=screenshots / "webchat-widget.png")

    # A reload reconnects with the kept token: the same conversation, no form.
    page.reload()
    expect(page.locator(".sb")).to_have_attribute("data-connection", "live")
    page.get_by_role("button", name="Open chat").click()
    expect(conversation.locator(".msg")).to_have_count(2)
    expect(page.get_by_role("form", name="Write a message")).to_be_visible()
    page.get_by_label("Your message").fill("Thank you!")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(agent_page.locator("#case .message.in")).to_have_count(2)
    expect(conversation.locator(".msg.in:not(.pending)")).to_have_count(2)

    def check():
        case = Case.objects.get()
        return case.customer.display_name, list(case.messages.values_list("direction", flat=True))

    assert db_thread(check) == ("María", ["in", "out", "in"])
    agent_context.close()


def test_offline_form_when_nobody_serves_the_chat(page: Page, asgi_server, db_thread):
    db_thread(widget_channel, with_agent=False)

    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    form = page.get_by_role("form", name="Leave a message")
    expect(form).to_be_visible()
    form.get_by_label("Name").fill("Jan")
    form.get_by_label("Email").fill("jan@example.cz")
    form.get_by_label("Message").fill("Please call me back about invoice 12.")
    form.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("status")).to_have_text("Thank you! We will answer by email.")
    expect(page.locator(".sb")).to_have_attribute("data-view", "sent")

    def check():
        case = Case.objects.get()
        return case.channel_kind, case.customer.identities.get(kind="email").address, case.messages.get().text

    assert db_thread(check) == ("email", "jan@example.cz", "Please call me back about invoice 12.")


def test_talk_to_a_person_is_always_there(page: Page, asgi_server, db_thread):
    db_thread(widget_channel)

    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Talk to a person").click()
    form = page.get_by_role("form", name="Before we start")
    form.get_by_label("Name").fill("Li Wei")
    form.get_by_role("button", name="Start chat").click()
    conversation = page.get_by_label("Conversation")
    expect(conversation.locator(".msg.in:not(.pending) .body")).to_have_text("I'd like to talk to a person, please.")
    expect(page.get_by_role("status")).to_contain_text("Waiting for an agent")

    def check():
        case = Case.objects.get()
        return case.status, case.customer.display_name

    assert db_thread(check) == ("offered", "Li Wei")


def test_with_nobody_online_talk_to_a_person_leads_to_the_message_form(page: Page, asgi_server, db_thread):
    db_thread(widget_channel, with_agent=False)

    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("form", name="Leave a message")).to_be_visible()
    page.get_by_role("button", name="Close chat").click()
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.get_by_role("form", name="Leave a message")).to_be_visible()
