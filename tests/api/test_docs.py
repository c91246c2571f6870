"""The API's documentation page is served by the project itself: every asset
it loads is one of our static files or its own start-up script (a URL, not
inline: the content security policy allows no inline script), nothing comes
from the internet."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def _page_and_script(client) -> str:
    html = client.get("/api/v1/docs/").content.decode()
    script = re.search(r'<script src="(/api/v1/docs/\?script=[^"]*)"', html)
    return html + client.get(script[1].replace("&amp;", "&")).content.decode()


def test_docs_page_loads_only_our_own_assets(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = _page_and_script(client)
    assert 'id="swagger-ui"' in html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, "the page loads its assets"
    for ref in refs:
        assert ref.startswith(("/static/", "/api/v1/docs/?script=")), f"asset from elsewhere: {ref}"
        assert client.get(ref).status_code == 200, ref
    assert not re.search(r"https?://|//cdn", html), "no absolute URL in the page (scripts included)"
    assert '"validatorUrl": null' in html  # the UI would send the schema to swagger.io otherwise


def test_docs_page_reads_our_schema(client):
    assert "/api/v1/schema/" in _page_and_script(client)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/cases/" in schema.json()["paths"]
