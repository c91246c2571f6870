"""The supervisor dashboard and the wallboard in a real browser: numbers
change without a reload when a case arrives by signed webhook, and a
supervisor's action from the page reaches the database and the dashboard."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agents.models import Role, Team
from cases.models import Case, CaseEvent, CaseStatus
from dashboards.models import QueueLoadSample
from tests import factories
from tests.browser.test_agent_workspace import log_in, post_webhook

pytestmark = pytest.mark.browser


def world():
    sales = Team.objects.create(name="Sales")
    queue = factories.queue("General", team=sales)
    billing = factories.queue("Billing", team=sales, priority=2)
    # The last hours as the per-minute sampler would have left them (every 5 min here).
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=4)
    QueueLoadSample.objects.bulk_create(
        QueueLoadSample(queue=q, minute=start + timedelta(minutes=5 * i), waiting=round(w * (1 + math.sin(i / 6))))
        for i in range(48)
        for q, w in ((queue, 4), (billing, 2))
    )
    channel = factories.channel("web", default_queue=queue)
    # Ana is logged out: arriving cases wait in the queue.
    ana = factories.agent("ana", teams=[sales], present=False)
    factories.agent("ben", teams=[sales], present=False)
    sam = factories.user("sam", role=Role.SUPERVISOR)
    sales.supervisors.add(sam)
    return channel, queue, ana


def open_dashboard(page: Page, path: str = "/supervisor/") -> None:
    log_in(page, "sam", next_url=path)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.locator("#connection")).to_have_text("live")


def queue_row(page: Page, queue_id: int):
    return page.locator(f"#queues tr[data-queue-id='{queue_id}']")


def test_dashboard_numbers_change_live_and_a_supervisor_assigns_from_the_page(
    page: Page, asgi_server, db_thread, screenshots
):
    channel, queue, ana = db_thread(world)
    open_dashboard(page)
    row = queue_row(page, queue.pk)
    expect(row.locator(".waiting")).to_have_text("0")
    expect(page.locator("#agents tbody tr")).to_have_count(2)
    # The chart draws each queue's history (48 samples, the oldest at the 4-hour edge) up to now.
    path = page.locator(f"#chart svg path[data-queue-id='{queue.pk}']")
    assert path.get_attribute("d").count("L") >= 46

    post_webhook(asgi_server, channel, factories.payload(id="m-1", text="Where is my parcel?"))
    post_webhook(
        asgi_server,
        channel,
        factories.payload(id="m-2", **{"from": {"kind": "email", "address": "li@example.com", "name": "Li Wei"}}),
    )
    # No reload: the websocket's deltas change the numbers.
    expect(row.locator(".waiting")).to_have_text("2")
    expect(row.locator(".arrivals")).to_have_text("2/2")
    expect(row.locator(".longest")).to_have_text(re.compile(r"^\d+ s$"))

    # Drill down into the queue and assign the first case to Ana (offline: forced).
    row.get_by_role("button", name="General").click()
    drill = page.locator("#drill-cases tr[data-case-id]")
    expect(drill).to_have_count(2)
    first = drill.first
    case_id = int(first.get_attribute("data-case-id"))
    first.get_by_label(f"Agent for case {case_id}").select_option(label="Ana")
    first.get_by_label(f"Force case {case_id}").check()
    first.get_by_role("button", name="Assign").click()
    expect(row.locator(".waiting")).to_have_text("1")
    expect(row.locator(".assigned")).to_have_text("1")
    agent_row = page.locator(f"#agents tr[data-agent-id='{ana.pk}']")
    expect(agent_row.locator(".cases")).to_have_text(f"#{case_id}")
    expect(page.locator("#feed")).to_contain_text("forced assignment")
    expect(page.locator("#drill-cases tr[data-case-id]")).to_have_count(2)  # one waiting, one assigned
    expect(page.locator(f"#drill-cases tr[data-case-id='{case_id}']")).to_contain_text("assigned")
    expect(page.locator(f"#drill-cases tr[data-case-id='{case_id}']")).to_contain_text("Ana")
    page.screenshot(path=screenshots / "supervisor-dashboard.png", full_page=True)

    # Change the queue's priority from the page.
    row.get_by_label("Priority of General").select_option("1")
    expect(page.locator("#toast")).to_have_text("General: priority 1")
    expect(page.locator("#queues tbody tr").first).to_have_attribute("data-queue-id", str(queue.pk))

    def check():
        case = Case.objects.get(pk=case_id)
        assert case.status == CaseStatus.ASSIGNED and case.assignee_id == ana.pk
        assert case.events.filter(kind=CaseEvent.Kind.ASSIGNED, actor__username="sam").exists()
        queue.refresh_from_db()
        assert queue.priority == 1

    db_thread(check)


def test_wallboard_shows_large_live_tiles_and_the_chart(page: Page, asgi_server, db_thread, screenshots):
    channel, queue, _ = db_thread(world)
    page.set_viewport_size({"width": 1600, "height": 900})
    open_dashboard(page, "/supervisor/wallboard/")
    tile = page.locator(f"#tiles .tile[data-queue-id='{queue.pk}']")
    expect(tile.locator(".waiting")).to_have_text("0")
    post_webhook(asgi_server, channel, factories.payload(id="m-1"))
    expect(tile.locator(".waiting")).to_have_text("1")
    expect(page.locator("#chart svg path[data-queue-id]")).to_have_count(2)
    page.screenshot(path=screenshots / "supervisor-wallboard.png")


def test_an_agent_gets_the_not_a_supervisor_page(page: Page, asgi_server, db_thread):
    db_thread(world)
    log_in(page, "ana", next_url="/supervisor/")
    expect(page.get_by_role("heading", name="Not a supervisor")).to_be_visible()
    expect(page.locator("#connection")).to_have_count(0)


def test_the_page_says_stale_when_updates_stop_and_resyncs(page: Page, asgi_server, db_thread):
    """Redis gone (or back without the memberships) looks like silence on the
    socket: the page must not look live; it asks for a snapshot and is live
    again once one arrives."""
    db_thread(world)
    held = {"drop": False}

    def route(ws):
        server = ws.connect_to_server()

        def to_page(message):
            if not held["drop"]:
                ws.send(message)

        server.on_message(to_page)
        ws.on_message(lambda message: server.send(message))

    page.route_web_socket(re.compile(r".*/ws/supervisor/$"), route)
    page.clock.install()
    open_dashboard(page)
    held["drop"] = True
    page.clock.run_for(15_000)
    expect(page.locator("#connection")).to_have_text("stale — resyncing…")
    held["drop"] = False
    page.clock.run_for(5_000)
    expect(page.locator("#connection")).to_have_text("live")


def test_a_skipped_sequence_number_makes_the_page_ask_for_a_fresh_snapshot(page: Page, asgi_server, db_thread):
    channel, queue, _ = db_thread(world)
    dropped, resyncs = [], []

    def route(ws):
        server = ws.connect_to_server()

        def to_page(message):
            if '"type": "delta"' in message and not dropped:
                dropped.append(message)  # lost on the way, as when Redis drops a message
                return
            ws.send(message)

        def to_server(message):
            if '"resync"' in message:
                resyncs.append(message)
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(re.compile(r".*/ws/supervisor/$"), route)
    open_dashboard(page)
    row = queue_row(page, queue.pk)
    post_webhook(asgi_server, channel, factories.payload(id="m-1"))
    expect(row.locator(".arrivals")).to_have_text("0/0")  # its delta was dropped
    post_webhook(
        asgi_server,
        channel,
        factories.payload(id="m-2", **{"from": {"kind": "email", "address": "li@example.com", "name": "Li"}}),
    )
    expect(row.locator(".waiting")).to_have_text("2")
    expect(page.locator("#connection")).to_have_text("live")
    assert len(dropped) == 1
    assert len(resyncs) == 1 and '"gap"' in resyncs[0]
