"""Fixtures for the browser tests: the real ASGI application served by uvicorn
on a free loopback port against the test database, and Debian's Chromium
driven by Playwright (no browser is downloaded: ``tests/setup-system.sh``
installs Debian's ``chromium``).

pytest-django's ``live_server`` is WSGI only; the workspace needs websockets,
so ``asgi_server`` runs ``config.asgi:application`` (with its lifespan) in a
background thread of this process. On PostgreSQL the test database is a real
database. On SQLite it is pytest-django's in-memory database, shared by every
thread of the process through SQLite's shared cache, where a thread touching
a table that another thread is writing fails at once ("database table is
locked") instead of waiting: so a test acts only once the page shows that the
server has finished the previous step (the indicator reads "live" after the
snapshot, the case pane is no longer ``aria-busy``, a webhook is posted over
HTTP and answered after its inline work).

A failing test leaves a screenshot of its page under var/screenshots/.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from django.db import connection, connections
from playwright.sync_api import Browser, BrowserContext, Error, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium's own connections are refused on these machines.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SERVER_START_SECONDS = 10
# Playwright's auto-waiting: long enough for a busy 2-core CI machine, short
# enough that a broken page fails in seconds rather than minutes.
expect.set_options(timeout=10_000)


@dataclass(frozen=True)
class AsgiServer:
    url: str  # e.g. http://127.0.0.1:41234

    def __str__(self) -> str:
        return self.url


class _ServerThread(threading.Thread):
    """uvicorn on an already-bound socket, so there is no port race."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(name="asgi-test-server", daemon=True)
        self.sock = sock
        config = uvicorn.Config(
            "config.asgi:application",
            lifespan="on",
            log_level="warning",
            access_log=False,
            ws="websockets-sansio",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported to the test that started the server
            self.error = exc

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=15)


def _end_leaked_sessions() -> list[tuple]:
    """PostgreSQL: the server's threads must close their connections. End any
    that were left open (so the test database can still be flushed) and
    return them, for the test to fail on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, left(query, 200), pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[:3] for row in cursor.fetchall()]


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[AsgiServer]:
    """``config.asgi:application`` served over HTTP and websockets on a free
    127.0.0.1 port for one test, against the test database."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = _ServerThread(sock)
    thread.start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not thread.server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            thread.stop()
            sock.close()
            pytest.fail(f"the ASGI test server did not start: {thread.error!r}")
        time.sleep(0.02)
    try:
        yield AsgiServer(url=f"http://127.0.0.1:{port}")
    finally:
        thread.stop()
        sock.close()
        if thread.is_alive():
            pytest.fail("the ASGI test server did not stop within 15 s")
        leaked = _end_leaked_sessions() if connection.vendor == "postgresql" else []
        if leaked:
            pytest.fail(f"the ASGI test server left database sessions open: {leaked}")
    if thread.error is not None and not isinstance(thread.error, SystemExit):
        raise thread.error


@pytest.fixture
def playwright(asgi_server: AsgiServer) -> Iterator[Playwright]:
    # Playwright's sync API marks its event loop as running in this thread
    # between calls, and Django refuses ORM calls there. So Playwright starts
    # after the test database and server are up and stops before they are torn
    # down (pytest-django's flush runs in this thread), and tests touch the
    # database through ``db_thread``.
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Browser tests fail, never skip, when Chromium is missing.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run tests/setup-system.sh (Debian's 'chromium' package)")
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as exc:
        pytest.fail(f"Chromium at {CHROMIUM} did not start under Playwright: {exc}")
    yield browser
    browser.close()


@pytest.fixture
def context(asgi_server: AsgiServer, browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) pointed at the test server; closed
    before the server stops, so no websocket is left open."""
    ctx = browser.new_context(base_url=asgi_server.url, viewport={"width": 1366, "height": 768}, locale="en-US")
    yield ctx
    ctx.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture
def page(request, context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    yield page
    if getattr(request.node, "browser_test_failed", False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"failed-{request.node.name}.png", full_page=True)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def db_thread(transactional_db) -> Callable[..., T]:
    """Run ORM code (factories, assertions) on a thread of its own, outside
    Playwright's event loop, and close that thread's connection afterwards:
    ``agent = db_thread(factories.agent, "ana")``."""

    def call(fn: Callable[..., T], *args, **kwargs) -> T:
        def body() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser-test-db") as pool:
            return pool.submit(body).result()

    return call
