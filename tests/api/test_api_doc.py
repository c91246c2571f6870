"""The README's API section lists every endpoint (by its resource, found
from the URL resolver) and shows token auth with curl."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.endpoints import api_endpoints

README = Path(__file__).resolve().parents[2] / "README.md"


def _api_section() -> str:
    text = README.read_text()
    start = text.index("\n## API\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_readme_lists_every_endpoint_resource():
    section = _api_section()
    missing = set()
    for path in api_endpoints():
        resource = re.sub(r"\{\w+\}/.*$", "", path.removeprefix("/api/v1/"))  # "sla/policies/", "agents/me/"
        written = (f"`{resource}", f"`/api/v1/{resource}", f"`{resource.split('/')[0]}/")
        if resource and not any(w in section for w in written):
            missing.add(resource)
    assert not missing, f"endpoints missing from the README's API section: {sorted(missing)}"


def test_the_readme_shows_token_auth_with_curl():
    section = _api_section()
    assert "manage.py drf_create_token" in section
    assert 'curl -H "Authorization: Token <token>"' in section
