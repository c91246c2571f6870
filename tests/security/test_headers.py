"""Our pages carry a content security policy, no framing, no sniffing and a
same-origin referrer policy; the policy allows what the pages use and no more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import factories

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize("path", ["/accounts/login/", "/agent/", "/supervisor/", "/api/v1/docs/", "/admin/login/"])
def test_pages_carry_the_security_headers(client, db, path):
    if path == "/supervisor/":
        client.force_login(factories.user("sam", role="supervisor"))
    elif path == "/agent/":
        client.force_login(factories.agent("ana").user)
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_api_docs_page_has_no_inline_script(client, db):
    page = client.get("/api/v1/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    script_url = re.findall(r'<script src="(/api/v1/docs/\?[^"]+)"', page)[-1].replace("&amp;", "&")
    assert client.get(script_url)["Content-Type"].startswith("application/javascript")


def test_our_templates_have_no_inline_scripts_styles_or_handlers():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), template


def test_a_file_a_customer_sent_keeps_its_sandbox_policy(client, db):
    from django.http import HttpResponse

    from config.security import ContentSecurityPolicy

    own = HttpResponse("x")
    own["Content-Security-Policy"] = "sandbox; default-src 'none'"
    from django.test import RequestFactory

    response = ContentSecurityPolicy(lambda request: own)(RequestFactory().get("/media/x"))
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_https_settings_in_production_mode(settings):
    # The production values themselves are proven by `check --deploy` (test_deploy_check).
    assert {r"^healthz/?$", r"^readyz/?$"} <= set(settings.SECURE_REDIRECT_EXEMPT)
    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"
