"""Parsing mail the way it really arrives (no database)."""

from __future__ import annotations

import base64
import quopri

import pytest

from connectors.email.parse import EmailInvalid, decode_header, parse_email
from connectors.email.quoting import split_quoted

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


def _raw(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


def test_encoded_words_in_subject_and_sender_in_czech_and_polish_charsets():
    subject = "=?windows-1250?B?" + base64.b64encode("Příliš žluťoučký kůň".encode("cp1250")).decode() + "?="
    sender = "=?iso-8859-2?Q?" + quopri.encodestring("Łukasz Wróbel".encode("iso-8859-2"), header=True).decode()
    raw = _raw(f"From: {sender}?= <lukasz@example.pl>\nSubject: {subject}\nMessage-ID: <a@x>\n", b"hi\r\n")

    parsed = parse_email(raw)

    assert parsed.subject == "Příliš žluťoučký kůň"
    assert parsed.from_name == "Łukasz Wróbel"
    assert parsed.from_address == "lukasz@example.pl"
    assert parsed.message_id == "a@x"


def test_adjacent_encoded_words_join_without_the_space_between_them():
    assert decode_header("=?utf-8?q?Dobr=C3=BD?= =?utf-8?q?_den?=") == "Dobrý den"


def test_quoted_printable_body_in_iso_8859_2():
    body = quopri.encodestring("Dobrý den, zásilka nedorazila.".encode("iso-8859-2"))
    raw = _raw(
        "From: a@example.cz\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-2\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        body,
    )
    assert parse_email(raw).text == "Dobrý den, zásilka nedorazila."


def test_base64_body_in_windows_1250():
    body = base64.encodebytes("Dzień dobry, paczka nie dotarła.".encode("cp1250"))
    raw = _raw(
        "From: a@example.pl\nMIME-Version: 1.0\nContent-Type: text/plain; charset=windows-1250\n"
        "Content-Transfer-Encoding: base64\n",
        body,
    )
    assert parse_email(raw).text == "Dzień dobry, paczka nie dotarła."


def test_a_part_lying_about_its_charset_falls_back_instead_of_failing():
    raw = _raw("From: a@example.cz\nContent-Type: text/plain; charset=us-ascii\n", "Žádný problém".encode())
    assert parse_email(raw).text == "Žádný problém"
    raw = _raw("From: a@example.cz\nContent-Type: text/plain; charset=x-made-up\n", "Łódź".encode("cp1250"))
    assert "ód" in parse_email(raw).text  # an unknown charset is read as windows-1252: no failure


def test_multipart_alternative_keeps_the_plain_text_and_the_raw_html():
    raw = _raw(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Rich <b>words</b></p>\r\n--b--\r\n",
    )
    parsed = parse_email(raw)
    assert parsed.text == "Plain words"
    assert parsed.html == "<p>Rich <b>words</b></p>"


def test_html_only_mail_gets_a_readable_text_without_script():
    raw = _raw(
        "From: a@example.com\nContent-Type: text/html; charset=utf-8\n",
        b"<p>Line one<br>Line &amp; two</p><script>alert(1)</script>",
    )
    assert parse_email(raw).text == "Line one\nLine & two"


def test_attachments_and_inline_images_are_separated_from_the_text():
    png = b"\x89PNG\r\n\x1a\nfake"
    raw = _raw(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n',
        b"--m\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
        b'--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<img src="cid:logo@x">\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(png)
        + b"--r--\r\n"
        b'--m\r\nContent-Type: application/pdf; name="=?utf-8?q?faktura_=C4=8D=2E1.pdf?="\r\n'
        b'Content-Disposition: attachment; filename="../../etc/faktura.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"%PDF-1.4") + b"--m--\r\n",
    )
    parsed = parse_email(raw)
    inline, pdf = parsed.attachments
    assert (inline.content_type, inline.content_id, inline.inline, inline.data) == ("image/png", "logo@x", True, png)
    assert (pdf.filename, pdf.inline, pdf.data) == ("faktura.pdf", False, b"%PDF-1.4")


@pytest.mark.parametrize(
    "text, new, quoted_start",
    [
        (
            "Thanks, it works.\n\nOn Mon, 23 Nov 2026 at 10:00, Acme <s@acme.test> wrote:\n> Try again",
            "Thanks, it works.",
            "On Mon",
        ),
        ("Díky.\n\nDne po 23. 11. 2026 v 10:00 Acme <s@acme.test> napsal:\n> Zkuste", "Díky.", "Dne po"),
        ("Dzięki.\n\nW dniu 23.11.2026 o 10:00, Acme pisze:\n> Prosimy", "Dzięki.", "W dniu"),
        ("Ok\n\n-----Original Message-----\nFrom: Acme\nSubject: x", "Ok", "-----Original"),
        ("Ok\n\n________________________________\nFrom: Acme\nSent: Monday", "Ok", "______"),
        ("Yes please.\n\n> Shall we send it?\n> Regards", "Yes please.", "> Shall"),
    ],
)
def test_quoted_history_is_separated_from_the_new_text(text, new, quoted_start):
    got_new, quoted = split_quoted(text)
    assert got_new == new
    assert quoted.startswith(quoted_start)


def test_an_inline_reply_is_kept_whole():
    text = "> Which size?\nLarge.\n> Which colour?\nBlue."
    assert split_quoted(text) == (text, "")


def test_threading_headers_are_read_without_brackets():
    raw = _raw(
        "From: a@example.com\nMessage-ID: <new@x>\nIn-Reply-To: <out-2@acme>\nReferences: <root@x>\n <out-2@acme>\n",
        b"hi",
    )
    parsed = parse_email(raw)
    assert parsed.in_reply_to == ["out-2@acme"]
    assert parsed.references == ["root@x", "out-2@acme"]
    assert parsed.thread_ids == ["out-2@acme", "root@x"]


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "X-Auto-Response-Suppress: All",
    ],
)
def test_auto_replies_and_bulk_mail_are_recognized(header):
    assert parse_email(_raw(f"From: a@example.com\n{header}\n", b"I am away")).automated


def test_a_person_writing_is_not_automated():
    assert parse_email(_raw("From: a@example.com\nAuto-Submitted: no\n", b"Hi")).automated == ""


def test_a_bounce_names_the_message_that_failed():
    raw = _raw(
        "From: MAILER-DAEMON@mx.example.com\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n',
        b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sb42.1@acme.test>\r\nSubject: Re: x\r\n"
        b"--r--\r\n",
    )
    report = parse_email(raw).report
    assert report.failed
    assert report.status == "5.1.1"
    assert "user unknown" in report.diagnostic
    assert report.original_message_id == "sb42.1@acme.test"
    assert report.recipient == "gone@example.com"


def test_nul_bytes_never_reach_the_text():
    parsed = parse_email(_raw("From: a@example.com\nSubject: a\x00b\n", b"te\x00xt"))
    assert parsed.text == "text" and parsed.subject == "ab"


@pytest.mark.parametrize(
    "raw, reason",
    [(b"", "empty"), (b"\r\n\r\n", "empty"), (b"Subject: hi\r\n\r\nno sender", "no sender")],
)
def test_what_is_not_a_message_is_refused_with_a_reason(raw, reason):
    with pytest.raises(EmailInvalid, match=reason):
        parse_email(raw)


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote"><div dir="ltr">On Mon, Acme wrote:</div><blockquote>Try again</blockquote></div>',
        '<blockquote type="cite">Try again</blockquote>',
        '<div id="divRplyFwdMsg"><b>From:</b> Acme</div><div>Try again</div>',
    ],
)
def test_the_quoted_history_is_cut_from_the_html_too(quote):
    raw = _raw(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFixed, thanks.\r\n\r\n"
        b"On Mon, 23 Nov 2026 at 10:00, Acme <s@acme.test> wrote:\r\n> Try again\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>Fixed, thanks.</div>"
        + quote.encode()
        + b"\r\n--b--\r\n",
    )
    parsed = parse_email(raw)
    assert parsed.text == "Fixed, thanks."
    assert parsed.html == "<div>Fixed, thanks.</div>"


def test_a_forwarded_message_is_kept_as_an_attachment():
    raw = _raw(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n',
        b"--m\r\nContent-Type: text/plain\r\n\r\nSee the mail below.\r\n"
        b"--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: shop@example.com\r\nSubject: Your order\r\n\r\nShipped.\r\n"
        b"--m--\r\n",
    )
    parsed = parse_email(raw)
    assert parsed.text == "See the mail below."
    (forwarded,) = parsed.attachments
    assert forwarded.content_type == "message/rfc822" and forwarded.filename == "attachment-1.eml"
    assert b"Subject: Your order" in forwarded.data
