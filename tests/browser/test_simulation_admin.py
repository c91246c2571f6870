"""The what-if simulation from the admin, in a real browser: an admin fills
in a scenario, runs it, and sees the report with its charts."""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.simulation.helpers import agent, doc

pytestmark = pytest.mark.browser
PASSWORD = "pw-for-tests"
SCENARIO = """seed: 4
arrivals: {web_chat: {per_hour: {9: 30, 10: 30}, mix: [{queue: Chat}]}}
handle_time: {web_chat: 400}
shifts: {default: [8, 12]}
what_if:
  - add_agents: {count: 1, prefix: extra, capacity: {web_chat: 2}, hours: [9, 11]}
"""


def admin_user():
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", "root@example.com", PASSWORD)


def test_an_admin_runs_a_what_if_and_sees_the_charts(page: Page, asgi_server, db_thread, screenshots):
    db_thread(admin_user)
    page.goto("/admin/login/?next=/admin/simulation/simulationrun/add/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/simulation/simulationrun/add/$"))

    page.get_by_label("Name").fill("One more chat agent 9–11")
    page.locator("#id_scenario").fill(SCENARIO)
    sla = [{"name": "chat", "match_channel_kinds": ["web_chat"], "first_response_minutes": 2}]
    config = doc([agent("ana", capacity={"web_chat": 1}, total=1)], sla=sla)
    page.locator("#id_config").fill(yaml.safe_dump(config))
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(re.compile(r"/admin/simulation/simulationrun/\d+/change/$"))
    report = page.locator(".simulation-report")
    expect(report.locator("table.summary")).to_contain_text("B: what if")
    # 2 legend keys, 3 charts for all queues, 1 for the queue B changed.
    expect(report.locator("svg")).to_have_count(6)
    expect(report.get_by_role("heading", name="Average wait by hour of arrival: Chat")).to_be_visible()
    expect(report.locator("svg polyline.series")).to_have_count(6)  # waiting, wait, Chat's wait: A and B
    expect(report.locator("svg rect.bar").first).to_be_visible()
    page.screenshot(path=screenshots / "simulation-admin.png", full_page=True)


def test_a_bad_scenario_shows_the_error_on_the_form(page: Page, asgi_server, db_thread):
    db_thread(admin_user)
    page.goto("/admin/login/?next=/admin/simulation/simulationrun/add/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#id_scenario").fill("handle_time: {web_chat: {dist: gamma}}")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote, .errorlist")).to_contain_text(["unknown dist 'gamma'"])
    expect(page).to_have_url(re.compile(r"/add/$"))
