"""docs/api.md (the API's page, moved there from the README) lists every
endpoint (by its resource, found from the URL resolver) and shows token auth
with curl."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.endpoints import api_endpoints

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _api_section() -> str:
    return API_PAGE.read_text()


def test_the_api_page_lists_every_endpoint_resource():
    section = _api_section()
    missing = set()
    for path in api_endpoints():
        resource = re.sub(r"\{\w+\}/.*$", "", path.removeprefix("/api/v1/"))  # "sla/policies/", "agents/me/"
        written = (f"`{resource}", f"`/api/v1/{resource}", f"`{resource.split('/')[0]}/")
        if resource and not any(w in section for w in written):
            missing.add(resource)
    assert not missing, f"endpoints missing from docs/api.md: {sorted(missing)}"


def test_the_api_page_shows_token_auth_with_curl():
    section = _api_section()
    assert "manage.py drf_create_token" in section
    assert 'curl -H "Authorization: Token <token>"' in section
