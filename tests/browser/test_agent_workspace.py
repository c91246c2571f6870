"""The agent workspace in a real browser: Chromium logs in through the login
form, opens /agent/, and works cases that arrive by signed webhook while the
page is open, over the live websocket of the real ASGI application."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case, CaseStatus, Message
from connectors.models import Channel
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests"  # what tests.factories gives every user


def log_in(page: Page, username: str, *, next_url: str = "/agent/") -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def open_workspace(page: Page, username: str) -> None:
    log_in(page, username)
    expect(page).to_have_url(re.compile(r"/agent/$"))
    # "live" once the socket's snapshot is shown: the server is done with the
    # connect (presence, snapshot) before the test sends anything.
    expect(page.locator("#connection")).to_have_text("live")


def accept_first_offer(page: Page) -> None:
    page.locator("#offers .offer").first.get_by_role("button", name="Accept").click()
    expect(page.locator("#case .case-head")).to_be_visible()
    # The accept's answer opens the case and marks the pane busy until the
    # server has answered case.open; the head shows only after that answer.
    expect(page.locator("#case")).not_to_have_attribute("aria-busy", "true")


def post_webhook(server, channel: Channel, body: dict) -> None:
    """What a provider does: a signed JSON body to /hooks/<key>/ on the live server."""
    raw = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (http to our own loopback server)
        f"{server.url}/hooks/{channel.key}/",
        data=raw,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(channel.secret, raw)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 202, response.read()
        event_id = json.loads(response.read())["event_id"]
    _processed(event_id)


def _processed(event_id: int) -> None:
    """Wait until the server has processed the event. On the tests' SQLite
    (one in-memory database shared by the server's threads, where a write
    fails at once with "table is locked" while another thread reads it) a
    page's reads can make the processing fail: it is run again then, as an
    admin's replay would. Files on disk wait for each other instead."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from django.utils import timezone

    from connectors.models import InboundEvent
    from connectors.services import replay_events

    def check() -> tuple[str, str]:
        try:
            event = InboundEvent.objects.get(pk=event_id)
            if event.status == InboundEvent.Status.FAILED and "locked" in event.error:
                replay_events(event_ids=[event_id], now=timezone.now())
                event.refresh_from_db()
            return event.status, event.error
        finally:
            connections.close_all()

    deadline = time.monotonic() + 10
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser-test-webhook") as pool:
        while True:
            try:
                status, error = pool.submit(check).result()
            except Exception as exc:  # the check's own read met a lock: look again
                status, error = "received", str(exc)
            if status not in ("received", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert status in ("processed", "ignored"), (event_id, status, error)


def web_channel_and_agent(username: str = "ana"):
    channel = factories.channel("web", default_queue=factories.queue("General"))
    return channel, factories.agent(username)


def test_agent_accepts_an_offer_replies_and_resolves_the_case(page: Page, asgi_server, db_thread, screenshots):
    channel, agent = db_thread(web_channel_and_agent)

    open_workspace(page, "ana")
    expect(page.locator("#offers")).to_contain_text("No offers right now.")

    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="Hello, my order #77 has not arrived."))
    offer = page.locator("#offers .offer")
    expect(offer).to_have_count(1)
    expect(offer.locator(".offer-head strong")).to_have_text("María")
    expect(offer.locator(".preview")).to_have_text("Hello, my order #77 has not arrived.")
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^[1-9]\d* s$"))

    accept_first_offer(page)
    expect(page.locator("#offers .offer")).to_have_count(0)
    case_pane = page.locator("#case")
    expect(case_pane.locator(".case-head")).to_contain_text("María")
    inbound = case_pane.locator(".message.in")
    expect(inbound).to_have_count(1)
    expect(inbound.locator(".body")).to_have_text("Hello, my order #77 has not arrived.")
    expect(page.locator("#cases .case-item")).to_have_count(1)

    # A second customer writes while the first case is open: both show at once.
    post_webhook(
        asgi_server,
        channel,
        factories.payload(
            id="m-2",
            **{"from": {"kind": "email", "address": "li@example.com", "name": "Li Wei"}},
            text="Can I change the delivery address for my order? I moved last week and the old flat is empty now.",
        ),
    )
    expect(page.locator("#offers .offer")).to_have_count(1)
    expect(page.locator("#offers .offer strong")).to_have_text("Li Wei")
    # Load counts the held case and the pending offer, as the router does.
    expect(page.locator("#load")).to_contain_text("api 2/2")

    reply = "Sorry about that, María! I'm checking with the courier now."
    page.get_by_label("Reply").fill(reply)
    page.get_by_role("button", name="Send").click()
    outbound = case_pane.locator(".message.out")
    expect(outbound).to_have_count(1)
    expect(outbound.locator(".body")).to_have_text(reply)
    expect(outbound.locator(".meta")).to_contain_text("Ana")
    expect(page.get_by_label("Reply")).to_have_value("")
    # The workspace fits the window: its columns scroll, the page does not.
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    page.screenshot(path=screenshots / "agent-workspace.png")

    case_id = int(page.locator("#cases .case-item.open").get_attribute("data-case-id"))
    page.get_by_role("button", name="Resolve").click()
    expect(case_pane).to_contain_text(f"Case {case_id} resolved.")
    expect(page.locator("#cases .case-item")).to_have_count(0)

    def check():
        case = Case.objects.get(pk=case_id)
        assert case.status == CaseStatus.RESOLVED
        assert case.assignee_id == agent.pk
        sent = case.messages.get(direction=Message.Direction.OUTBOUND, author_agent=agent)  # (and the survey)
        assert sent.text == reply
        assert sent.author_agent_id == agent.pk
        assert Offer.objects.get(case=case).status == Offer.Status.ACCEPTED

    db_thread(check)


def test_declining_with_a_reason_removes_the_offer(page: Page, asgi_server, db_thread):
    channel, _ = db_thread(web_channel_and_agent)

    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1"))
    offer = page.locator("#offers .offer")
    expect(offer).to_have_count(1)

    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.message)
        dialog.accept("Wrong language")

    page.once("dialog", answer)
    offer.get_by_role("button", name="Decline").click()
    expect(page.locator("#offers .offer")).to_have_count(0)
    expect(page.locator("#offers")).to_contain_text("No offers right now.")
    assert dialogs == ["Why decline? (optional)"]

    declined = db_thread(Offer.objects.get)
    assert declined.status == Offer.Status.DECLINED
    assert declined.decline_reason == "Wrong language"


def test_customer_html_is_sanitized_before_the_browser_renders_it(page: Page, asgi_server, db_thread):
    channel, _ = db_thread(web_channel_and_agent)
    html = '<p>Hi</p><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="", html=html))
    accept_first_offer(page)

    body = page.locator("#case .message.in .body")
    expect(body).to_have_text("Hi")
    expect(body.locator("p")).to_have_text("Hi")
    expect(body.locator("script")).to_have_count(0)
    expect(body.locator("img[onerror]")).to_have_count(0)
    # Had an onerror handler survived, it would have run by the time the
    # broken image finished loading.
    page.wait_for_function("() => [...document.querySelectorAll('#case img')].every((img) => img.complete)")
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_customer_text_is_shown_as_text_never_as_markup(page: Page, asgi_server, db_thread):
    channel, _ = db_thread(web_channel_and_agent)
    text = '<img src=x onerror="window.__pwned=1"> is what I typed'

    open_workspace(page, "ana")
    post_webhook(
        asgi_server,
        channel,
        factories.payload(
            id="m-1", text=text, **{"from": {"kind": "email", "address": "eve@example.com", "name": "<b>Eve</b>"}}
        ),
    )
    offer = page.locator("#offers .offer")
    expect(offer.locator(".offer-head strong")).to_have_text("<b>Eve</b>")
    expect(offer.locator(".preview")).to_have_text(text)
    accept_first_offer(page)
    expect(page.locator("#case .message.in .body")).to_have_text(text)
    expect(page.locator("#case .case-head")).to_contain_text("<b>Eve</b>")
    expect(page.locator("#offers img, #case img, #cases img, #offers b, #case b")).to_have_count(0)
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_login_without_an_agent_profile_gets_the_not_an_agent_page(page: Page, asgi_server, db_thread):
    db_thread(factories.user, "pat")

    log_in(page, "pat")
    expect(page).to_have_url(re.compile(r"/agent/$"))
    expect(page.get_by_role("heading", name="Not an agent")).to_be_visible()
    expect(page.locator("#connection")).to_have_count(0)


def test_anonymous_visitor_is_sent_to_the_login_page(page: Page, asgi_server):
    response = page.goto("/agent/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/agent/$"))
    assert response is not None and response.ok
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_configured_decline_reasons_are_offered_as_a_choice(page: Page, asgi_server, db_thread):
    from routing.models import DeclineReason

    def world():
        DeclineReason.objects.create(label="Wrong language", order=1)
        DeclineReason.objects.create(label="Needs another team", order=2)
        return web_channel_and_agent()

    channel, _ = db_thread(world)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1"))
    offer = page.locator("#offers .offer")
    expect(offer).to_have_count(1)
    offer.get_by_role("button", name="Decline").click()
    choice = offer.get_by_label("Decline reason")
    expect(choice.locator("option")).to_have_text(["Wrong language", "Needs another team"])
    choice.select_option("Needs another team")
    offer.get_by_role("button", name="Confirm decline").click()
    expect(page.locator("#offers")).to_contain_text("No offers right now.")

    declined = db_thread(Offer.objects.get)
    assert declined.status == Offer.Status.DECLINED
    assert declined.decline_reason == "Needs another team"


def test_an_agent_set_away_for_missed_offers_is_told_why(page: Page, asgi_server, db_thread):
    from datetime import timedelta

    from django.utils import timezone

    from routing.models import RoutingSettings
    from routing.offers import expire_offers

    def world():
        away = factories.status("On a break", [])
        RoutingSettings.objects.create(missed_offers_limit=1, away_status=away)
        return web_channel_and_agent()

    channel, _ = db_thread(world)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1"))
    expect(page.locator("#offers .offer")).to_have_count(1)
    db_thread(lambda: expire_offers(now=timezone.now() + timedelta(minutes=5)))
    expect(page.locator("#status-reason")).to_have_text("Set to On a break after 1 missed offer in a row.")
    expect(page.locator("#status option:checked")).to_have_text("On a break (no channels)")


def test_sla_time_left_shows_on_offers_and_cases_and_the_agent_can_wait_on_the_customer(
    page: Page, asgi_server, db_thread, screenshots
):
    def world():
        from sla.models import Clock, SlaPolicy

        SlaPolicy.objects.create(
            name="Chat", first_response_minutes=10, next_response_minutes=15, resolution_minutes=60
        )
        return (*web_channel_and_agent(), Clock)

    channel, agent, Clock = db_thread(world)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-sla", text="Where is my parcel?"))
    offer = page.locator("#offers .offer")
    expect(offer.locator(".sla")).to_have_text(re.compile(r"^SLA (9|10) min$"))

    accept_first_offer(page)
    item = page.locator("#cases .case-item")
    expect(item.locator(".sla")).to_have_text(re.compile(r"^SLA (9|10) min$"))
    page.get_by_role("button", name="Wait on customer").click()
    expect(item.locator(".waiting")).to_have_text("waiting on customer")
    expect(page.get_by_role("button", name="Wait on customer")).to_have_count(0)
    page.screenshot(path=screenshots / "agent-waiting-on-customer.png")

    def check():
        case = Case.objects.get(assignee=agent)
        assert case.status == CaseStatus.WAITING
        assert Clock.objects.get(case=case, target="resolution").status == Clock.Status.PAUSED

    db_thread(check)


def test_the_customers_history_on_every_channel_shows_beside_the_case(page: Page, asgi_server, db_thread, screenshots):
    """María mailed last week; now she writes on another channel. The agent
    sees the earlier case and what was said in it, without asking."""

    def world():
        from django.utils import timezone

        from cases.models import Customer, Identity

        channel, agent = web_channel_and_agent()
        mail = factories.channel("mail", kind="email", default_queue=factories.queue("Email"))
        maria = Customer.objects.create(display_name="María", tier="vip")
        Identity.objects.create(customer=maria, kind="email", address="maria@example.com")
        earlier = factories.held_case(mail, agent, status="resolved", customer_obj=maria, resolved_at=timezone.now())
        Case.objects.filter(pk=earlier.pk).update(subject="Refund for order 12")
        Message.objects.create(
            case=earlier,
            direction="in",
            channel_kind="email",
            text="The blender arrived broken.",
            created_at=timezone.now(),
        )
        return channel, earlier.pk

    channel, earlier_id = db_thread(world)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-hist", text="Any news on my refund?"))
    accept_first_offer(page)

    history = page.locator("#customer")
    expect(history.locator("h2")).to_contain_text("María")
    expect(history.locator(".identity")).to_contain_text(["email: maria@example.com"])
    past = history.locator(f'.past-case[data-case-id="{earlier_id}"]')
    expect(past.locator("summary")).to_contain_text("Refund for order 12")
    past.locator("summary").click()
    expect(past.locator(".past-message.in")).to_have_text("The blender arrived broken.")
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    page.screenshot(path=screenshots / "agent-customer-history.png")


def test_a_whatsapp_case_past_its_24_hour_window_says_so_and_takes_no_free_text(
    page: Page, asgi_server, db_thread, screenshots
):
    def world():
        from datetime import timedelta

        from django.utils import timezone

        agent = factories.agent("ana", capacity={"whatsapp": 2})
        wa = factories.channel("wa", kind="whatsapp", default_queue=factories.queue("WhatsApp"))
        case = factories.held_case(wa, agent)
        Case.objects.filter(pk=case.pk).update(
            subject="Order 5", last_customer_message_at=timezone.now() - timedelta(hours=30)
        )
        return case.pk

    case_id = db_thread(world)
    open_workspace(page, "ana")
    page.locator(f'#cases .case-item[data-case-id="{case_id}"]').click()
    notice = page.locator("#case .reply-window")
    expect(notice).to_contain_text("24-hour reply window closed")
    expect(page.get_by_label("Reply")).to_be_disabled()
    page.screenshot(path=screenshots / "agent-reply-window-closed.png")


def _agent_page(browser, asgi_server, username: str) -> Page:
    context = browser.new_context(base_url=asgi_server.url, viewport={"width": 1366, "height": 768})
    agent_page = context.new_page()
    open_workspace(agent_page, username)
    return agent_page


def test_declining_with_a_reason_re_offers_the_case_to_another_agent(page: Page, browser, asgi_server, db_thread):
    from routing.models import DeclineReason

    def world():
        DeclineReason.objects.create(label="Needs another team", order=1)
        channel, ana = web_channel_and_agent()
        # Bob is not at work yet: the first offer can only go to Ana.
        bob = factories.agent("bob", present=False)
        return channel, ana.pk, bob.pk

    channel, ana_id, bob_id = db_thread(world)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="My parcel is lost"))
    expect(page.locator("#offers .offer")).to_have_count(1)
    bob_page = _agent_page(browser, asgi_server, "bob")
    expect(bob_page.locator("#offers")).to_contain_text("No offers right now.")

    offer = page.locator("#offers .offer")
    offer.get_by_role("button", name="Decline").click()
    offer.get_by_label("Decline reason").select_option("Needs another team")
    offer.get_by_role("button", name="Confirm decline").click()
    expect(page.locator("#offers")).to_contain_text("No offers right now.")

    # Bob gets it, live, and can take it.
    bob_offer = bob_page.locator("#offers .offer")
    expect(bob_offer.locator(".preview")).to_have_text("My parcel is lost")
    accept_first_offer(bob_page)
    expect(bob_page.locator("#case .message.in .body")).to_have_text("My parcel is lost")
    expect(page.locator("#offers .offer")).to_have_count(0)

    def offers():
        return list(Offer.objects.order_by("pk").values_list("agent_id", "status", "decline_reason"))

    assert db_thread(offers) == [
        (ana_id, Offer.Status.DECLINED, "Needs another team"),
        (bob_id, Offer.Status.ACCEPTED, ""),
    ]
    bob_page.context.close()


def test_an_agent_without_the_language_is_never_offered_the_case(page: Page, browser, asgi_server, db_thread):
    def world():
        factories.status("Lunch", [])
        channel, ana = web_channel_and_agent()  # Ana: no Spanish
        bob = factories.agent("bob", skills={"lang-es": 3})
        return channel, ana.pk, bob.pk

    channel, ana_id, bob_id = db_thread(world)
    open_workspace(page, "ana")
    bob_page = _agent_page(browser, asgi_server, "bob")

    post_webhook(asgi_server, channel, factories.payload(id="m-es", text="Hola, ¿dónde está mi pedido?", language="es"))
    expect(bob_page.locator("#offers .offer .preview")).to_have_text("Hola, ¿dónde está mi pedido?")
    bob_page.once("dialog", lambda dialog: dialog.accept("Busy"))
    bob_page.locator("#offers .offer").get_by_role("button", name="Decline").click()
    expect(bob_page.locator("#offers")).to_contain_text("No offers right now.")

    def spanish_case():
        case = Case.objects.get()
        return case.status, list(case.offers.values_list("agent_id", "status"))

    # Declined by the only Spanish speaker, it waits in the queue: Ana, free, is not offered it.
    assert db_thread(spanish_case) == (CaseStatus.QUEUED, [(bob_id, Offer.Status.DECLINED)])
    # Ana is available all along: with Bob at lunch, an English case reaches her at once.
    bob_page.get_by_label("Presence status").select_option(label="Lunch (no channels)")
    expect(bob_page.locator("#status-takes")).to_have_text("Takes: nothing")
    post_webhook(
        asgi_server,
        channel,
        factories.payload(
            id="m-en", text="Where is my order?", **{"from": {"kind": "email", "address": "li@example.com"}}
        ),
    )
    expect(page.locator("#offers .offer .preview")).to_have_text("Where is my order?")
    expect(page.locator("#offers .offer")).to_have_count(1)
    assert db_thread(lambda: Offer.objects.filter(agent_id=ana_id, case__language="es").exists()) is False
    bob_page.context.close()
