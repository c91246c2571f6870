"""The composer fits the case's channel (SMS length and parts, email's
recipient, subject and quoted thread), writes internal notes, and each reply
shows its delivery live — failed with the provider's error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case, Message
from tests import factories
from tests.browser.test_agent_workspace import open_workspace

pytestmark = pytest.mark.browser


def held_case_world(kind: str, *, text: str = "Where is my order?", subject: str = "", **channel_fields) -> int:
    from django.utils import timezone

    from cases.models import Identity

    agent = factories.agent("ana", capacity={kind: 2})
    channel = factories.channel(f"{kind}-chan", kind=kind, default_queue=factories.queue("General"), **channel_fields)
    case = factories.held_case(channel, agent)
    Identity.objects.create(customer=case.customer, kind="email", address="maria@example.com")
    Case.objects.filter(pk=case.pk).update(subject=subject, last_customer_message_at=timezone.now())
    Message.objects.create(case=case, direction="in", channel_kind=kind, text=text, created_at=timezone.now())
    return case.pk


def open_held_case(page: Page, case_id: int) -> None:
    page.locator(f'#cases .case-item[data-case-id="{case_id}"]').click()
    expect(page.locator("#case .case-head")).to_be_visible()
    expect(page.locator("#case")).not_to_have_attribute("aria-busy", "true")
    # The history is fetched after the case opens: wait for it before the
    # test touches the database (SQLite's shared cache, see conftest).
    expect(page.locator("#customer .identity")).to_have_count(1)


def test_the_sms_composer_counts_characters_and_parts(page: Page, asgi_server, db_thread):
    case_id = db_thread(held_case_world, "sms")
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    reply, count = page.get_by_label("Reply"), page.locator("#sms-count")

    reply.fill("x" * 160)
    expect(count).to_have_text("160 characters · 1 SMS (GSM-7)")
    reply.fill("x" * 161)
    expect(count).to_have_text("161 characters · 2 SMS (GSM-7)")
    reply.fill("x" * 306 + "€")  # the euro sign takes two GSM-7 places
    expect(count).to_have_text("308 characters · 3 SMS (GSM-7)")
    reply.fill("ñ" * 70)  # ñ is GSM-7 too
    expect(count).to_have_text("70 characters · 1 SMS (GSM-7)")
    reply.fill("ą" * 70)
    expect(count).to_have_text("70 characters · 1 SMS (UCS-2)")
    reply.fill("ą" * 71)
    expect(count).to_have_text("71 characters · 2 SMS (UCS-2)")
    reply.fill("ą" * 134 + "😀")  # an emoji is two UCS-2 units
    expect(count).to_have_text("136 characters · 3 SMS (UCS-2)")


def test_the_email_composer_shows_recipient_subject_and_quotes_the_thread(page: Page, asgi_server, db_thread):
    case_id = db_thread(
        held_case_world, "email", text="The blender arrived broken.\nCan I get a refund?", subject="Order 12"
    )
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    fields = page.locator("#case .email-fields")
    expect(fields).to_contain_text("To: maria@example.com")
    expect(fields).to_contain_text("Subject: Re: Order 12")
    expect(page.get_by_label("Quote the customer's last message")).to_be_checked()
    expect(page.locator("#sms-count")).to_have_text("")

    page.get_by_label("Reply").fill("Yes, a refund is on its way.")
    page.get_by_label("Reply").press("Control+Enter")
    sent = page.locator("#case .message.out .body")
    expect(sent).to_contain_text("Yes, a refund is on its way.")
    expect(sent).to_contain_text("María wrote:\n> The blender arrived broken.\n> Can I get a refund?")


def test_an_internal_note_shows_as_a_note_and_is_not_sent(page: Page, asgi_server, db_thread):
    case_id = db_thread(held_case_world, "api")
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_label("Internal note").check()
    expect(page.get_by_role("button", name="Add note")).to_be_visible()
    page.get_by_label("Reply").fill("Customer is a reseller, check the B2B price list")
    page.get_by_role("button", name="Add note").click()
    note = page.locator("#case .message.note")
    expect(note).to_have_count(1)
    expect(note.locator(".meta")).to_contain_text("Note · Ana")
    expect(note.locator(".body")).to_have_text("Customer is a reseller, check the B2B price list")
    expect(page.get_by_label("Internal note")).not_to_be_checked()
    expect(page.get_by_label("Reply")).to_have_value("")

    def stored():
        return list(Message.objects.filter(case_id=case_id).exclude(direction="in").values_list("direction", "text"))

    assert db_thread(stored) == [("note", "Customer is a reseller, check the B2B price list")]


def test_delivery_of_a_reply_shows_live_failed_with_the_providers_error(page: Page, asgi_server, db_thread):
    # The provider's endpoint refuses connections: the reply fails.
    case_id = db_thread(held_case_world, "api", config={"reply_url": "http://127.0.0.1:9/replies"})
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_label("Reply").fill("Let me check")
    page.get_by_role("button", name="Send").click()
    delivery = page.locator("#case .message.out .delivery")
    expect(delivery).to_have_class("delivery failed")
    expect(delivery).to_contain_text("failed: ")
    expect(delivery).to_contain_text("refused")


def test_delivery_of_a_reply_shows_live_sent(page: Page, asgi_server, db_thread):
    case_id = db_thread(held_case_world, "api")
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_label("Reply").fill("Let me check")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#case .message.out .delivery")).to_have_text("sent")
