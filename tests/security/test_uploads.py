"""Uploads: an oversized request body is refused before Django spools it
(config.bodylimit); customers' files (email attachments, the only files
stored) are served with safe headers and shown inline only when they really
are a safe image (who may see them: tests/connectors/email/test_inbound.py)."""

from __future__ import annotations

import asyncio

import pytest

from config.asgi import application
from tests import factories

CHUNK = 64 * 1024


def _run(scope_headers, chunks):
    """Drive the ASGI app with a POST to a webhook; return the status sent
    and how many body chunks the app read."""
    read, sent = [], []

    async def receive():
        if len(read) < len(chunks):
            read.append(chunks[len(read)])
            return {"type": "http.request", "body": read[-1], "more_body": len(read) < len(chunks)}
        await asyncio.sleep(3600)  # the client waits for the answer (Django cancels this when done)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/hooks/shop/",
        "raw_path": b"/hooks/shop/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *scope_headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(application(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], len(read), b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_declared_oversized_body_is_refused_without_reading_it(settings):
    declared = str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1).encode()
    status, chunks_read, body = _run([(b"content-length", declared)], [b"x" * CHUNK] * 3)
    assert status == 413 and chunks_read == 0
    assert b"too_large" in body


def test_a_streamed_body_is_cut_as_soon_as_it_passes_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * CHUNK
    status, chunks_read, _ = _run([], [b"x" * CHUNK] * 50)
    assert status == 413 and chunks_read == 4


@pytest.mark.django_db(transaction=True)
def test_a_body_within_the_limit_reaches_django(settings):
    status, chunks_read, body = _run([], [b"{}"])
    assert status == 404 and chunks_read == 1  # no such channel: Django answered
    assert b"unknown_channel" in body


def _mail_with(name: str, content_type: str, data: bytes) -> bytes:
    import base64

    return (
        b"From: ana@example.com\r\nTo: support@acme.test\r\nSubject: File\r\nMessage-ID: <f1@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b"--m\r\nContent-Type: "
        + content_type.encode()
        + b'\r\nContent-Disposition: attachment; filename="'
        + name.encode()
        + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(data)
        + b"--m--\r\n"
    )


@pytest.fixture
def staff_client(client, db):
    root = factories.user("root")
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    return client


@pytest.mark.parametrize(
    ("name", "content_type", "data", "shown_inline"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n\x1a\nrest-of-image", True),
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0rest", True),
        ("fake.png", "image/png", b"<html><script>alert(1)</script></html>", False),
        ("page.html", "text/html", b"<script>alert(1)</script>", False),
        ("drawing.svg", "image/svg+xml", b"<svg onload='alert(1)'/>", False),
    ],
)
def test_a_customers_file_is_shown_inline_only_when_it_really_is_a_safe_image(
    mailbox, post_mail, staff_client, name, content_type, data, shown_inline
):
    from connectors.models import EmailAttachment

    post_mail(mailbox, _mail_with(name, content_type, data))
    stored = EmailAttachment.objects.get()
    response = staff_client.get(stored.file.url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    if shown_inline:
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"].startswith("inline")
    else:
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
