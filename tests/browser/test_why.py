""" "Why Jana?" on the supervisor dashboard, in a real browser: a routed
case tells why it went to its agent and why the others did not get it, and
a waiting case tells why nobody has it yet."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agents.models import Role, Team
from routing.batch import route_case
from tests import factories
from tests.browser.test_supervisor import open_dashboard, queue_row

pytestmark = pytest.mark.browser


def world():
    desk = Team.objects.create(name="Spanish desk")
    queue = factories.queue("Spanish", team=desk)
    channel = factories.channel("es", default_queue=queue)
    factories.agent("jana", skills={"lang-es": 5}, teams=[desk])
    factories.agent("petr", skills={"lang-es": 1}, teams=[desk])
    sam = factories.user("sam", role=Role.SUPERVISOR)
    desk.supervisors.add(sam)
    routed = factories.queued_case(channel, skills={"lang-es": 3})
    route_case(case_id=routed.pk, now=timezone.now())
    waiting = factories.queued_case(channel, skills={"lang-es": 3, "billing": 4})
    route_case(case_id=waiting.pk, now=timezone.now())
    return queue, routed.pk, waiting.pk


def test_a_supervisor_sees_why_a_case_went_to_its_agent_and_why_one_waits(
    page: Page, asgi_server, db_thread, screenshots
):
    queue, routed, waiting = db_thread(world)
    open_dashboard(page)
    queue_row(page, queue.pk).get_by_role("button", name="Spanish").click()

    page.locator(f"#drill-cases tr[data-case-id='{waiting}']").get_by_role("button", name="Why waiting?").click()
    why = page.locator("#why")
    expect(page.locator("#why-title")).to_have_text(f"Why is case #{waiting} waiting?")
    expect(why).to_contain_text("Nobody may take it now.")
    expect(why).to_contain_text("lacks a required skill")

    row = page.locator(f"#drill-cases tr[data-case-id='{routed}']")
    expect(row).to_contain_text("Jana")
    row.get_by_role("button", name="Why Jana?").click()
    expect(page.locator("#why-title")).to_have_text(f"Why Jana? Case #{routed}")
    expect(why).to_contain_text("Offered to Jana")
    expect(why).to_contain_text("Chosen: Jana, by most free capacity on the channel")
    expect(why).to_contain_text("Not offered (below the required proficiency): Petr.")
    expect(why.locator("tbody tr").first).to_contain_text("Jana (chosen)")
    page.screenshot(path=screenshots / "supervisor-why.png", full_page=True)

    why.get_by_role("button", name="Close").click()
    expect(why).to_be_hidden()

    # The reports are one click away.
    page.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"/reports/$"))
