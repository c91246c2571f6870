"""The content security policy breaks none of our pages: Chromium loads the
login page, the agent workspace and the supervisor dashboards (websocket
live) under the policy and reports no violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from agents.models import Role
from tests import factories
from tests.browser.test_agent_workspace import log_in, open_workspace

pytestmark = pytest.mark.browser

REPORT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def watched(page: Page) -> Page:
    page.add_init_script(REPORT)
    return page


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def test_the_login_page_and_the_agent_workspace_run_under_the_policy(watched: Page, asgi_server, db_thread):
    db_thread(lambda: (factories.channel("web", default_queue=factories.queue("General")), factories.agent("ana")))
    response = watched.goto("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert violations(watched) == []
    open_workspace(watched, "ana")  # live: the websocket connected under connect-src
    assert violations(watched) == []


@pytest.mark.parametrize("path", ["/supervisor/", "/supervisor/wallboard/"])
def test_the_supervisor_pages_run_under_the_policy(watched: Page, asgi_server, db_thread, path):
    db_thread(lambda: factories.user("sam", role=Role.SUPERVISOR))
    log_in(watched, "sam", next_url=path)
    expect(watched).to_have_url(re.compile(re.escape(path) + "$"))
    expect(watched.locator("#connection")).to_have_text("live")
    assert violations(watched) == []


def test_an_inline_script_would_be_blocked(watched: Page, asgi_server):
    """The check above can fail: a script the policy does not allow is reported."""
    watched.goto("/accounts/login/")
    watched.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';
                        document.body.appendChild(s); }""")
    watched.wait_for_function("window.__violations.length > 0")
    assert watched.evaluate("window.x") is None


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/connectors/channel/", "/admin/connectors/channel/add/", "/api/v1/docs/"]
)
def test_the_admin_and_the_api_docs_run_under_the_policy(watched: Page, asgi_server, db_thread, path):
    def admin():
        root = factories.user("root")
        root.is_staff = root.is_superuser = True
        root.save()

    db_thread(admin)
    log_in(watched, "root", next_url="/agent/")
    watched.goto(path)
    watched.wait_for_load_state("networkidle")
    assert violations(watched) == []
