"""Hostile and broken mail (hypothesis): the parser never crashes, the hook
never answers 5xx, the raw event is always kept (processed, ignored, or
failed with a clear error) and no HTML reaches a page unsanitized."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Message
from connectors.email.models import EmailDetail
from connectors.email.parse import EmailInvalid, parse_email
from connectors.models import InboundEvent

_ids = itertools.count()

HOSTILE_HTML = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=//evil.test></iframe>",
    '<style>body{background:url("javascript:alert(1)")}</style>',
    "<scr<script>ipt>alert(1)</script>",
]

charsets = st.sampled_from(
    ["utf-8", "iso-8859-2", "windows-1250", "us-ascii", "x-unknown", "utf-16", "bogus\x00", "", "utf-7", "gb2312"]
)
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])
junk = st.binary(max_size=300)
texts = st.text(max_size=200)


@st.composite
def parts(draw, depth: int = 0) -> bytes:
    """A MIME part, possibly a multipart nested a few levels, often wrong."""
    if depth < 4 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "x" * 80, "", "--", "b\x00"]))
        children = draw(st.lists(parts(depth=depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
        return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode() + body
    ctype = draw(st.sampled_from(["text/plain", "text/html", "image/png", "message/rfc822", "application/pdf"]))
    charset = draw(charsets)
    encoding = draw(encodings)
    content = draw(st.one_of(texts.map(lambda t: t.encode("utf-8", "surrogatepass")), junk))
    if draw(st.booleans()):
        content += draw(st.sampled_from(HOSTILE_HTML)).encode()
    if encoding == "base64" and draw(st.booleans()):
        content = base64.encodebytes(content)
    headers = f"Content-Type: {ctype}; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n"
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(["attachment", "inline", "bogus"]))
        headers += f'Content-Disposition: {disposition}; filename="{draw(texts)}"\r\n'
    return headers.encode("utf-8", "surrogatepass") + b"\r\n" + content


@st.composite
def messages(draw) -> bytes:
    headers = []
    if draw(st.booleans()):
        headers.append(
            b"From: "
            + draw(st.sampled_from([b"a@example.com", b"=?utf-8?b?!!?= <b@example.cz>", b"\x00", b"<>", b"x" * 5000]))
        )
    if draw(st.booleans()):
        headers.append(
            b"Subject: " + draw(st.one_of(junk, st.just(b"=?windows-1250?Q?P=F8=ED=?="), st.just(b"A" * 100_000)))
        )
    if draw(st.booleans()):
        headers.append(b"Message-ID: <" + str(next(_ids)).encode() + b"@fuzz>")
    if draw(st.booleans()):
        headers.append(b"References: " + b" ".join(b"<r%d@x>" % i for i in range(draw(st.integers(0, 2000)))))
    if draw(st.booleans()):
        headers.append(draw(st.sampled_from([b"Auto-Submitted: auto-replied", b"Precedence: bulk", b"X-Weird\x00: 1"])))
    headers.append(b"MIME-Version: 1.0")
    body = draw(parts())
    raw = b"\r\n".join(headers) + b"\r\n" + body
    if draw(st.booleans()):
        raw = raw.replace(b"\r\n", b"\n")
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(messages(), st.binary(max_size=2000)))
def test_the_parser_never_crashes_and_never_returns_nul_or_lone_surrogates(raw):
    try:
        parsed = parse_email(raw)
    except EmailInvalid as exc:
        assert str(exc)
        return
    for value in (parsed.text, parsed.html, parsed.subject, parsed.quoted, parsed.from_name):
        assert "\x00" not in value
        value.encode("utf-8")  # raises on a lone surrogate


def _nested(levels: int) -> bytes:
    raw = b"From: a@example.com\r\n"
    for level in range(levels):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    return raw + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


def test_nested_multiparts_are_read_to_a_limit_and_the_rest_ignored():
    parsed = parse_email(_nested(60))
    assert any("nested deeper" in d for d in parsed.defects)


def test_multiparts_nested_beyond_what_the_parser_can_read_are_refused_with_a_reason():
    with pytest.raises(EmailInvalid, match="nested too deeply"):
        parse_email(_nested(5000))


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(raw=messages())
def test_hostile_mail_through_the_hook_is_kept_and_never_a_5xx(mailbox, post_mail, raw):
    before = InboundEvent.objects.count()
    response = post_mail(mailbox, raw)

    assert response.status_code < 500
    if response.status_code in (200,):
        return  # a redelivery of a stored Message-ID
    event = InboundEvent.objects.order_by("-pk").first()
    assert InboundEvent.objects.count() == before + 1
    assert bytes(event.body) == raw
    assert event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED, InboundEvent.Status.FAILED)
    if event.status == InboundEvent.Status.FAILED:
        assert event.error  # a clear reason, kept for an admin
        assert "Traceback" not in event.error
    if event.message_id:
        html = Message.objects.get(pk=event.message_id).html.lower()
        assert "<script" not in html and "javascript:" not in html and "onerror" not in html and "<iframe" not in html
    if EmailDetail.objects.filter(event=event).exists():
        assert "\x00" not in EmailDetail.objects.get(event=event).quoted_text
