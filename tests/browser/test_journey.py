"""The journey of issue 8, in two browser contexts against the real ASGI
application: a signed-in shop customer opens the web chat widget and writes;
the agent, available in the workspace, gets the offer, accepts, sees the
message and the customer's earlier email case, answers with a shared
response template (typed as ``/shortcut``); the customer sees the answer
live; the agent resolves; the widget asks for a rating, the customer answers,
and the answer shows in the customer's history in the workspace."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case, CaseStatus, Message
from connectors.models import Channel
from tests import factories
from tests.browser.test_agent_workspace import accept_first_offer, open_workspace
from tests.browser.test_webchat import browser, open_shop  # noqa: F401 (the widget's Chromium)

pytestmark = pytest.mark.browser

USER_ID = "shop-user-42"


def journey_world() -> dict:
    from django.utils import timezone

    from cases import services as case_services
    from cases.models import Identity
    from connectors.webchat.visitors import identity_signature
    from replies.models import Template

    chat = Channel.objects.create(
        key="shop-chat", name="Shop chat", kind="web_chat", provider="webchat", default_queue=factories.queue("Chat")
    )
    agent = factories.agent("ana")
    # María wrote by email last week; the shop knows her as user 42.
    maria, _ = case_services.resolve_customer(kind="web", address=f"shop-chat:user:{USER_ID}", display_name="María")
    Identity.objects.create(customer=maria, kind="email", address="maria@example.com")
    mail = factories.channel("mail", kind="email", default_queue=factories.queue("Email"))
    earlier = factories.held_case(mail, agent, status="resolved", customer_obj=maria, resolved_at=timezone.now())
    Case.objects.filter(pk=earlier.pk).update(subject="Refund for order 12")
    Message.objects.create(
        case=earlier,
        direction="in",
        channel_kind="email",
        text="The blender arrived broken.",
        created_at=timezone.now(),
    )
    Template.objects.create(
        name="Courier check",
        shortcut="courier",
        body="Hi {{customer.first_name}}, I'm checking with the courier now.",
    )
    return {"earlier": earlier.pk, "signature": identity_signature(chat.secret, USER_ID)}


def test_customer_chats_agent_answers_with_a_template_resolves_and_sees_the_rating(
    page: Page,
    browser,  # noqa: F811 (the fixture imported above)
    asgi_server,
    db_thread,
    screenshots,  # noqa: F811
):
    world = db_thread(journey_world)
    agent_context = browser.new_context(base_url=asgi_server.url, viewport={"width": 1366, "height": 768})
    agent_page = agent_context.new_page()
    errors: list[str] = []
    agent_page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_workspace(agent_page, "ana")

    # The customer, signed in at the shop, opens the chat and writes.
    open_shop(page, asgi_server, user_id=USER_ID, user_signature=world["signature"], user_name="María")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_label("Your message").fill("Hola, my order #77 has not arrived")
    page.get_by_role("button", name="Send", exact=True).click()
    conversation = page.get_by_label("Conversation")
    expect(conversation.locator(".msg.in:not(.pending)")).to_have_count(1)

    # The agent gets the offer, accepts, and sees the message and her earlier email case.
    offer = agent_page.locator("#offers .offer")
    expect(offer.locator(".offer-head strong")).to_have_text("María")
    expect(offer.locator(".preview")).to_have_text("Hola, my order #77 has not arrived")
    expect(offer.locator(".offer-head .kind")).to_have_text("web_chat")
    accept_first_offer(agent_page)
    expect(agent_page.locator("#case .message.in .body")).to_have_text("Hola, my order #77 has not arrived")
    past = agent_page.locator(f'#customer .past-case[data-case-id="{world["earlier"]}"]')
    expect(past.locator("summary")).to_contain_text("email")
    expect(past.locator("summary")).to_contain_text("Refund for order 12")
    past.locator("summary").click()
    expect(past.locator(".past-message.in")).to_have_text("The blender arrived broken.")

    # The reply: the template found by its shortcut, rendered for María.
    reply = agent_page.get_by_label("Reply")
    reply.click()
    reply.press_sequentially("/cour")
    choice = agent_page.locator('#picker .picker-item:has-text("Courier check")')
    expect(choice).to_have_count(1)
    agent_page.screenshot(path=screenshots / "agent-workspace-templates.png")
    reply.press("ArrowDown")  # to the match
    expect(choice).to_be_focused()
    agent_page.keyboard.press("Enter")
    expect(reply).to_have_value("Hi María, I'm checking with the courier now.")
    agent_page.screenshot(path=screenshots / "journey-agent-template.png")
    reply.press("Control+Enter")
    expect(agent_page.locator("#case .message.out .body")).to_have_text("Hi María, I'm checking with the courier now.")

    # The customer sees it live, from Ana.
    answer = conversation.locator(".msg.out")
    expect(answer.locator(".body")).to_have_text("Hi María, I'm checking with the courier now.")
    expect(answer.locator(".who")).to_have_text("Ana")
    agent_page.screenshot(path=screenshots / "agent-workspace-journey.png")

    # The customer starts typing: the agent sees it, live.
    page.get_by_label("Your message").press_sequentially("Gra")
    expect(agent_page.locator("#customer-typing")).to_have_text("María is typing…")
    page.get_by_label("Your message").fill("")

    # The agent resolves; the customer is asked for a rating and answers.
    case_id = int(agent_page.locator("#cases .case-item.open").get_attribute("data-case-id"))
    agent_page.locator("#case .case-tools").get_by_role("button", name="Resolve").click()
    expect(agent_page.locator("#case")).to_contain_text(f"Case {case_id} resolved.")
    survey = page.get_by_role("form", name="Rate this chat")
    expect(survey).to_be_visible()
    survey.get_by_role("button", name="Rate 5 out of 5").click()
    survey.get_by_label("Comment (optional)").fill("Quick and kind <b>thanks</b>")
    survey.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thank you for your rating!")).to_be_visible()
    page.screenshot(path=screenshots / "journey-customer-survey.png")

    # The answer is in María's history, beside what the agent works on.
    agent_page.get_by_role("button", name="Refresh history").click()
    answered = agent_page.locator(f'#customer .survey-answer[data-case-id="{case_id}"]')
    expect(answered).to_have_text(re.compile(r"web_chat · 5/5 · Ana · “Quick and kind <b>thanks</b>”"))
    expect(agent_page.locator("main")).not_to_contain_text("null")
    agent_page.screenshot(path=screenshots / "journey-agent-history.png")

    def check():
        case = Case.objects.get(pk=case_id)
        outbound = case.messages.get(direction=Message.Direction.OUTBOUND)
        return case.status, case.customer.display_name, outbound.text

    assert db_thread(check) == (CaseStatus.RESOLVED, "María", "Hi María, I'm checking with the courier now.")
    assert errors == []
    agent_context.close()
