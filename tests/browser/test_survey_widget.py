"""The satisfaction survey in the web chat widget, in a real browser: the
customer chats, the agent resolves, the widget shows the survey at once; the
customer picks a score and writes a comment; the answer is kept (once) and
shows in the customer's history. The agent's side runs through the services
(the workspace has its own browser tests)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cases.customers import customer_history
from cases.models import Case
from cases.services import resolve_case
from routing.models import Offer
from routing.offers import accept_offer
from surveys.models import Survey
from tests.browser.test_webchat import browser, open_shop, widget_channel  # noqa: F401 (the widget's browser)

pytestmark = pytest.mark.browser


def _accept_and_resolve() -> int:
    case = Case.objects.get()
    offer = Offer.objects.get(case=case, status="pending")
    accept_offer(offer_id=offer.pk, agent=offer.agent, now=timezone.now())
    resolve_case(case_id=case.pk, agent=offer.agent, now=timezone.now())
    return case.pk


def test_customer_answers_the_survey_in_the_widget_after_the_agent_resolves(
    page: Page, asgi_server, db_thread, screenshots
):
    db_thread(widget_channel)
    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    form = page.get_by_role("form", name="Before we start")
    form.get_by_label("Name").fill("María López")
    form.get_by_role("button", name="Start chat").click()
    page.get_by_label("Your message").fill("My order #77 has not arrived")
    page.get_by_role("button", name="Send", exact=True).click()
    conversation = page.get_by_label("Conversation")
    expect(conversation.locator(".msg.in:not(.pending)")).to_have_count(1)

    case_id = db_thread(_accept_and_resolve)

    survey = page.get_by_role("form", name="Rate this chat")
    expect(survey).to_be_visible()
    expect(page.get_by_role("status").first).to_have_text("This chat has ended. Write again any time.")
    survey.get_by_role("button", name="Send rating").click()
    expect(page.get_by_role("alert")).to_have_text("Choose a number from 1 to 5.")
    survey.get_by_role("button", name="Rate 4 out of 5").click()
    expect(survey.get_by_role("button", name="Rate 4 out of 5")).to_have_attribute("aria-pressed", "true")
    survey.get_by_label("Comment (optional)").fill("Quick, but <b>the parcel</b> is still late")
    page.screenshot(path=screenshots / "webchat-survey.png")
    survey.get_by_role("button", name="Send rating").click()
    expect(survey.get_by_text("Thank you for your rating!")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("")

    def answered():
        found = Survey.objects.get()
        history = customer_history(found.customer)
        return (
            found.case_id,
            found.score,
            found.comment,
            found.answered_via,
            [(s.score, s.agent.display_name) for s in history.surveys],
        )

    assert db_thread(answered) == (case_id, 4, "Quick, but <b>the parcel</b> is still late", "widget", [(4, "Ana")])

    # A reload does not ask again.
    page.reload()
    expect(page.locator(".sb")).to_have_attribute("data-connection", "live")
    page.get_by_role("button", name="Open chat").click()
    expect(conversation.locator(".msg")).to_have_count(1)
    expect(page.get_by_role("form", name="Rate this chat")).to_have_count(0)


def _emailed_survey() -> str:
    from tests import factories

    agent = factories.agent("ana")
    case = factories.held_case(factories.channel(kind="email"), agent, status="resolved", resolved_at=timezone.now())
    survey = Survey.objects.create(
        case=case,
        customer=case.customer,
        agent=agent,
        channel_kind="email",
        token="emailed-survey-token-0123456789abcdef",
        resolved_at=case.resolved_at,
        sent_at=timezone.now(),
    )
    return survey.token


def test_customer_answers_the_survey_page_from_the_link_once(page: Page, asgi_server, db_thread, screenshots):
    token = db_thread(_emailed_survey)

    page.goto(f"/survey/{token}/")
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    page.get_by_text("Very good").click()
    page.get_by_label("Anything you want to tell us? (optional)").fill("Solved in one email <script>x</script>")
    page.screenshot(path=screenshots / "survey-page.png")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("status")).to_have_text("We received your rating of 4 out of 5.")

    survey = db_thread(lambda: Survey.objects.values("score", "comment", "answered_via").get())
    assert survey == {"score": 4, "comment": "Solved in one email <script>x</script>", "answered_via": "link"}

    page.goto(f"/survey/{token}/")
    expect(page.get_by_role("heading", name="Already answered")).to_be_visible()
    expect(page.get_by_role("button", name="Send my answer")).to_have_count(0)


def _chat_until_the_survey_shows(page: Page, asgi_server, db_thread):
    db_thread(widget_channel)
    open_shop(page, asgi_server)
    page.get_by_role("button", name="Open chat").click()
    form = page.get_by_role("form", name="Before we start")
    form.get_by_label("Name").fill("María López")
    form.get_by_role("button", name="Start chat").click()
    page.get_by_label("Your message").fill("My order #77 has not arrived")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_label("Conversation").locator(".msg.in:not(.pending)")).to_have_count(1)
    db_thread(_accept_and_resolve)
    survey = page.get_by_role("form", name="Rate this chat")
    expect(survey.get_by_role("button", name="Rate 5 out of 5")).to_be_visible()
    return survey


def test_a_typed_score_answers_the_survey_and_closes_the_widget_card(page: Page, asgi_server, db_thread):
    survey = _chat_until_the_survey_shows(page, asgi_server, db_thread)

    page.get_by_label("Your message").fill("5 thanks a lot")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(survey.get_by_text("Thank you for your rating!")).to_be_visible()
    expect(survey.get_by_role("button", name="Rate 5 out of 5")).to_have_count(0)
    expect(survey.get_by_role("button", name="Send rating")).to_have_count(0)
    found = db_thread(lambda: Survey.objects.values("score", "comment", "answered_via").get())
    assert found == {"score": 5, "comment": "thanks a lot", "answered_via": "reply"}
    assert db_thread(lambda: Case.objects.get().status) == "resolved"  # the answer did not re-open it


def test_an_answer_by_the_link_closes_the_widget_card(page: Page, asgi_server, db_thread):
    survey = _chat_until_the_survey_shows(page, asgi_server, db_thread)

    def answer_by_link():
        from surveys.services import answer_survey

        found = Survey.objects.get()
        return answer_survey(token=found.token, score=3, via="link", now=timezone.now()).score

    assert db_thread(answer_by_link) == 3

    expect(survey.get_by_text("Thank you for your rating!")).to_be_visible()
    expect(survey.get_by_role("button", name="Send rating")).to_have_count(0)
