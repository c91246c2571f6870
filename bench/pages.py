"""pages: the agent workspace (/agent/) loading in Chromium on the demo data.

Production mode on PostgreSQL and Redis: one uvicorn process (DEBUG off)
serves a fresh database loaded with ``seed_demo`` plus a working day for the
demo agent ana (``--cases`` open cases, each with ``--messages`` messages
and two earlier cases of the same customer). Debian's Chromium, driven by
Playwright, logs in through the login form and loads /agent/ ``--loads``
times; each load is timed from the navigation's start to the moment the
page says it is live (the indicator turns "live" once the websocket's
snapshot is shown: offers, cases, statuses), read in the page from
``performance.now()`` by a MutationObserver. Browser caching is on, as for
an agent during the day; one load of each page warms up first.

Reference, same run, same browser, same server, alternating with the
workspace loads: the login page, timed from the navigation's start to its
``load`` event (a server-rendered page with the same style sheet). The
ratio is workspace / login page.
"""

from __future__ import annotations

import argparse
import secrets
import time

from bench.results import Figure, PartResult, median, percentile
from bench.stack import BIN, Processes, Stack, StackError, free_port, wait_for_http

TITLE = "the agent workspace in Chromium on the demo data: median time until it is live"

HOST = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DATABASE = "switchboard_bench_pages"
# Set before the page's scripts run: when #connection first reads "live".
LIVE_PROBE = """
window.__liveAt = null;
new MutationObserver((changes, observer) => {
  const indicator = document.getElementById("connection");
  if (indicator && indicator.dataset.state === "live") { window.__liveAt = performance.now(); observer.disconnect(); }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
"""
LOAD_END = "performance.getEntriesByType('navigation')[0].loadEventEnd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loads", type=int, default=30, help="timed loads of each page (default 30)")
    parser.add_argument("--cases", type=int, default=12, help="open cases the agent holds (default 12)")
    parser.add_argument("--messages", type=int, default=20, help="messages in each of them (default 20)")


# --- Inside Django (run through bench.in_django) ---------------------------------------


def seed(*, cases: int, messages: int, password: str) -> dict:
    """The demo data, and a working day for ana: open cases on several
    channels, each with a conversation and a customer with earlier cases."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from agents.models import Agent
    from cases.models import Case, Customer, Identity, Message
    from connectors.models import Channel
    from routing.models import Queue

    call_command("seed_demo", quiet=True)
    user = User.objects.get(username="ana")
    user.set_password(password)
    user.save(update_fields=["password"])
    agent = Agent.objects.get(user=user)
    queue = Queue.objects.filter(is_active=True).order_by("pk").first()
    kinds = ["web_chat", "email", "whatsapp", "sms"]
    channels = {
        kind: Channel.objects.get_or_create(
            key=f"bench-pages-{kind}", defaults={"name": f"Bench {kind}", "kind": kind, "provider": "generic_json"}
        )[0]
        for kind in kinds
    }
    now = timezone.now()
    for n in range(cases):
        kind = kinds[n % len(kinds)]
        customer = Customer.objects.create(display_name=f"Customer {n}")
        Identity.objects.create(customer=customer, kind="email", address=f"customer{n}@example.com")
        for earlier in range(3):
            status = "assigned" if earlier == 0 else "resolved"
            case = Case.objects.create(
                customer=customer,
                channel=channels[kind],
                channel_kind=kind,
                thread_key=f"bench-{n}-{earlier}",
                subject=f"Order {1000 + n} question {earlier}",
                status=status,
                queue=queue,
                assignee=agent,
                created_at=now - timedelta(days=earlier * 7, minutes=n),
                first_assigned_at=now - timedelta(days=earlier * 7, minutes=n),
                last_customer_message_at=now - timedelta(minutes=n),
                resolved_at=None if status == "assigned" else now - timedelta(days=earlier * 7),
            )
            Message.objects.bulk_create(
                Message(
                    case=case,
                    direction="in" if m % 2 == 0 else "out",
                    channel_kind=kind,
                    text=f"Message {m} about order {1000 + n}: " + "words " * 20,
                    author_agent=None if m % 2 == 0 else agent,
                    delivery_status="received" if m % 2 == 0 else "delivered",
                    created_at=now - timedelta(days=earlier * 7, minutes=messages - m),
                )
                for m in range(messages if earlier == 0 else 4)
            )
    return {"username": "ana", "cases": Case.objects.filter(assignee=agent, status="assigned").count()}


# --- The browser ----------------------------------------------------------------------


def _measure(base: str, *, username: str, password: str, loads: int) -> tuple[list[float], list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    live, loaded, login = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            viewport = {"width": 1366, "height": 768}
            agent = browser.new_context(base_url=base, viewport=viewport)
            agent.add_init_script(LIVE_PROBE)
            page = agent.new_page()
            page.goto("/accounts/login/?next=/agent/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            live_indicator = page.locator('#connection[data-state="live"]')
            live_indicator.wait_for(timeout=30_000)
            anonymous = browser.new_context(base_url=base, viewport=viewport)
            reference = anonymous.new_page()
            reference.goto("/accounts/login/", wait_until="load")  # warm-up
            for _ in range(loads):
                page.goto("/agent/", wait_until="commit")
                live_indicator.wait_for(timeout=30_000)  # a locator: the page's CSP forbids eval
                live.append(page.evaluate("window.__liveAt"))
                page.wait_for_load_state("load")
                loaded.append(page.evaluate(LOAD_END))
                reference.goto("/accounts/login/", wait_until="load")
                login.append(reference.evaluate(LOAD_END))
            if page.locator("#cases .case-item").count() == 0:
                raise StackError("the workspace showed no cases: the seed did not reach it")
        finally:
            browser.close()
    return live, loaded, login


def run(options: argparse.Namespace, stack: Stack) -> PartResult:
    if options.loads < 1 or options.cases < 0 or options.messages < 1:
        raise StackError("--loads and --messages must be positive, --cases not negative")
    env = stack.production_env(
        database_url=stack.database_url(DATABASE),
        redis_url=stack.redis_url(),
        CHANNELS_PREFIX="bench-pages",
        SWITCHBOARD_BACKGROUND="thread",
        SWITCHBOARD_EMBEDDED_TICKER="0",
        # Plain HTTP on loopback: no redirect to HTTPS, cookies sent without TLS.
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SECURE_HSTS_SECONDS="0",
    )
    stack.fresh_database(DATABASE, env=env)
    password = secrets.token_urlsafe(12)
    seeded = stack.django(
        "bench.pages:seed", env=env, cases=options.cases, messages=options.messages, password=password
    )
    port = free_port()
    with Processes(prefix="pages", log_dir=stack.log_dir) as procs:
        procs.start(
            "web",
            [str(BIN / "uvicorn"), "config.asgi:application", "--host", HOST, "--port", str(port)]
            + ["--lifespan", "on", "--no-access-log"],
            env=env,
        )
        wait_for_http(f"http://{HOST}:{port}/accounts/login/", procs=procs)
        stack.settle()
        started = time.monotonic()
        live, loaded, login = _measure(
            f"http://{HOST}:{port}", username=seeded["username"], password=password, loads=options.loads
        )
        seconds = time.monotonic() - started
        procs.check()
    stack.drop_database(DATABASE)
    p50, ref = median(live), median(login)
    return PartResult(
        part="pages",
        figures=[
            Figure("agent_live_p50_ms", round(p50, 1), "ms", round(ref, 1), "login_load_p50_ms", "ratio"),
            Figure("agent_live_p90_ms", round(percentile(live, 0.9), 1), "ms"),
            Figure("agent_load_event_p50_ms", round(median(loaded), 1), "ms"),
        ],
        notes=[
            f"/agent/ loaded {options.loads} times in Chromium until 'live' (websocket snapshot shown), "
            f"ana holding {seeded['cases']} open cases of {options.messages} messages; "
            f"reference: the login page's load event, alternating, same browser and server; {seconds:.0f} s",
        ],
        facts={"loads": options.loads, "cases": seeded["cases"], "messages": options.messages},
    )
