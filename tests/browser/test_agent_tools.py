"""The agent's tools beside the composer (a follow-up promise, a transfer),
the keyboard (shortcuts and their help), unread customer replies in the case
list, and linking an identity to the customer from the history pane."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case, CaseEvent, Identity
from tests import factories
from tests.browser.test_agent_composer import held_case_world, open_held_case
from tests.browser.test_agent_workspace import accept_first_offer, open_workspace, post_webhook, web_channel_and_agent

pytestmark = pytest.mark.browser


def test_a_follow_up_promise_is_set_from_the_case_and_orders_the_list(page: Page, asgi_server, db_thread):
    case_id = db_thread(held_case_world, "api")
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_role("button", name="Follow-up").click()
    form = page.get_by_role("form", name="Follow-up promise")
    form.get_by_label("Follow-up due").fill("2031-05-04T10:30")
    form.get_by_label("Follow-up note").fill("Call back with the courier's answer")
    form.get_by_role("button", name="Promise").click()
    expect(page.locator("#toast")).to_contain_text("Follow-up set for")
    expect(form).to_have_count(0)
    expect(page.locator(f'#cases .case-item[data-case-id="{case_id}"] .promise')).to_contain_text("follow-up in")

    def stored():
        from sla.models import Promise

        promise = Promise.objects.get(case_id=case_id)
        return promise.status, promise.note, promise.channel_kind, promise.due_at.year

    assert db_thread(stored) == ("open", "Call back with the courier's answer", "api", 2031)


def test_the_agent_transfers_the_case_to_another_queue(page: Page, asgi_server, db_thread):
    def world():
        case_id = held_case_world("api")
        return case_id, factories.queue("Billing").pk

    case_id, billing_id = db_thread(world)
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_role("button", name="Transfer").click()
    choice = page.get_by_label("Transfer to queue")
    expect(choice.locator("option")).to_have_text(["Billing"])  # not the queue it is in
    choice.select_option("Billing")
    page.get_by_role("form", name="Transfer", exact=True).get_by_role("button", name="Transfer").click()
    expect(page.locator("#case")).to_contain_text(f"Case {case_id} transferred.")
    expect(page.locator("#cases .case-item")).to_have_count(0)

    def stored():
        case = Case.objects.get(pk=case_id)
        return case.queue_id, case.assignee_id, case.events.filter(kind=CaseEvent.Kind.TRANSFERRED).count()

    assert db_thread(stored) == (billing_id, None, 1)


def test_the_agent_gives_the_case_to_a_colleague_free_to_take_it(page: Page, asgi_server, db_thread):
    def world():
        case_id = held_case_world("api")
        return case_id, factories.agent("ben").pk

    case_id, ben_id = db_thread(world)
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    page.get_by_role("button", name="Transfer").click()
    page.get_by_label("Transfer to agent").select_option(label="Ben")
    page.get_by_role("button", name="Give to agent").click()
    expect(page.locator("#case")).to_contain_text(f"Case {case_id} transferred.")
    expect(page.locator("#toast")).to_have_text(f"Case {case_id} transferred to Ben")

    def stored():
        case = Case.objects.get(pk=case_id)
        return case.assignee_id, case.status, case.events.filter(kind=CaseEvent.Kind.REASSIGNED).count()

    assert db_thread(stored) == (ben_id, "assigned", 1)


def test_keyboard_shortcuts_and_their_help(page: Page, asgi_server, db_thread, screenshots):
    def world():
        from replies.models import Template

        Template.objects.create(name="Thanks", shortcut="thanks", body="Thank you, {{customer.first_name}}!")
        return web_channel_and_agent()

    channel, _ = db_thread(world)
    open_workspace(page, "ana")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Accept the first offer")
    expect(help_dialog).to_contain_text("Send the reply (or note)")
    page.screenshot(path=screenshots / "agent-keyboard-help.png")
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)

    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="Hello there"))
    expect(page.locator("#offers .offer")).to_have_count(1)
    page.keyboard.press("a")  # accept
    expect(page.locator("#case .case-head")).to_be_visible()
    expect(page.locator("#case")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#customer .identity")).to_have_count(1)

    page.keyboard.press("t")  # the template picker
    picker = page.get_by_role("dialog", name="Templates and snippets")
    expect(picker.get_by_label("Search templates")).to_be_focused()
    page.keyboard.type("than")
    expect(picker.locator(".picker-item")).to_have_count(1)
    page.keyboard.press("Enter")  # to the first match
    page.keyboard.press("Enter")  # pick it
    reply = page.get_by_label("Reply")
    expect(reply).to_have_value("Thank you, María!")
    expect(reply).to_be_focused()
    reply.press("Control+Enter")
    expect(page.locator("#case .message.out .body")).to_have_text("Thank you, María!")

    page.keyboard.press("Escape")  # out of the reply box
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("e")  # resolve, confirmed
    expect(page.locator("#case")).to_contain_text("resolved.")


def test_a_customer_reply_to_a_case_not_open_is_marked_unread_until_opened(page: Page, asgi_server, db_thread):
    channel, _ = db_thread(web_channel_and_agent)
    open_workspace(page, "ana")
    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="First", thread="t-1"))
    accept_first_offer(page)
    first = page.locator("#cases .case-item.open")
    first_id = first.get_attribute("data-case-id")
    post_webhook(
        asgi_server,
        channel,
        factories.payload(id="m-2", text="Second", thread="t-2", **{"from": {"kind": "email", "address": "li@x.org"}}),
    )
    accept_first_offer(page)  # now the second case is open
    expect(page.locator("#customer .identity")).to_have_count(1)
    expect(page.locator("#cases .case-item")).to_have_count(2)
    # On SQLite (one in-memory database shared by the server's threads) a
    # write fails at once while another thread reads the same table: let the
    # accept's after-commit pushes finish before the next webhook writes.
    page.wait_for_timeout(1500)
    post_webhook(asgi_server, channel, factories.payload(id="m-3", text="Any news?", thread="t-1"))
    item = page.locator(f'#cases .case-item[data-case-id="{first_id}"]')
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item.locator(".unread-mark")).to_have_text("new reply")
    page.keyboard.press("Escape")
    page.keyboard.press("j")  # the next case: the first one
    expect(item).to_have_class(re.compile(r"\bopen\b"))
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))
    expect(page.locator("#case .message.in .body")).to_have_text(["First", "Any news?"])


def test_an_identity_is_linked_to_the_customer_from_the_history(page: Page, asgi_server, db_thread):
    case_id = db_thread(held_case_world, "api")
    open_workspace(page, "ana")
    open_held_case(page, case_id)
    history = page.locator("#customer")
    history.get_by_text("Link or merge").click()
    link = history.get_by_role("form", name="Link identity")
    link.get_by_label("Identity kind").select_option("phone")
    link.get_by_label("Identity address").fill("+34 600 123 456")
    link.get_by_role("button", name="Link").click()
    expect(history.locator(".identity")).to_contain_text(["email: maria@example.com", "phone: +34600123456"])

    def stored():
        case = Case.objects.get(pk=case_id)
        return sorted(Identity.objects.filter(customer=case.customer).values_list("kind", "address"))

    assert db_thread(stored) == [("email", "maria@example.com"), ("phone", "+34600123456")]
