"""The reports page in a real browser: a supervisor sees a chart and a
table of their team's figures, switches tables, and downloads the CSV."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from agents.models import Role, Team
from reports.aggregate import aggregate_due
from tests import factories
from tests.browser.test_agent_workspace import log_in
from tests.reports.conftest import K, at, case, event, message

pytestmark = pytest.mark.browser


def world():
    care = Team.objects.create(name="Care")
    queue = factories.queue("Support", team=care)
    ana = factories.agent("ana", teams=[care])
    email = factories.channel("mail", kind="email", default_queue=queue)
    for day, minutes in ((0, 20), (0, 40), (1, 30)):
        c = case(email, created=at(day, 10), assignee=ana, resolved_at=at(day, 11))
        message(c, "in", at(day, 10))
        event(c, K.ASSIGNED, at(day, 10, 1), ana)
        message(c, "out", at(day, 10, minutes), ana)
        event(c, K.RESOLVED, at(day, 11), ana)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    care.supervisors.add(sam)
    aggregate_due(now=at(2, 12), since=at(0, 0))


def test_reports_page_shows_a_chart_and_a_table_and_downloads_csv(page: Page, asgi_server, db_thread, screenshots):
    db_thread(world)
    log_in(page, "sam", next_url="/reports/")
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    page.goto("/reports/?group=day&since=2026-11-02&until=2026-11-04")
    expect(page.get_by_role("heading", name="By day")).to_be_visible()
    expect(page.locator("figure.report-chart svg rect")).to_have_count(2)
    table = page.locator("table.report-table")
    expect(table.get_by_role("row", name="2026-11-02")).to_contain_text("2")
    header = table.locator("thead th")
    monday = table.get_by_role("row", name="2026-11-02").locator("td")
    column = [header.nth(i).inner_text() for i in range(1, header.count())].index("First response avg (s)")
    expect(monday.nth(column)).to_have_text("1800.0")  # 20 and 40 minutes

    page.get_by_role("link", name="By queue").click()
    expect(page.get_by_role("heading", name="By queue")).to_be_visible()
    expect(page.locator("table.report-table").get_by_role("row", name="Support")).to_contain_text("3")
    page.screenshot(path=screenshots / "reports-by-queue.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("switchboard-queue-")
    with open(download.path(), encoding="utf-8") as saved:
        rows = list(csv.DictReader(io.StringIO(saved.read())))
    assert [(r["Queue"], r["Cases created"]) for r in rows] == [("Support", "3")]


def test_an_agent_gets_no_reports(page: Page, asgi_server, db_thread):
    db_thread(world)
    log_in(page, "ana", next_url="/reports/")
    expect(page.get_by_role("heading", name="Reports are for supervisors")).to_be_visible()
    expect(page.locator("table.report-table")).to_have_count(0)
