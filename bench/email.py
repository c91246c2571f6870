"""email: emails parsed per second over a mixed set of messages.

The set is what a support mailbox really receives: short plain replies with
quoted history, Czech and Polish mail in iso-8859-2 and windows-1250 (quoted-
printable and base64, encoded words in the headers), multipart/alternative
with HTML, attachments and inline images, nested multiparts, auto-replies
and bounces. Each round parses the whole set with Switchboard's parser
(``connectors.email.parse.parse_email``: decoded headers and bodies, HTML
kept for sanitizing, quoted history cut, attachments decoded, auto-reply and
bounce detection) and, interleaved in the same round, with the reference:
Python's bare ``email.message_from_bytes`` over the same bytes (a parse
tree only, nothing decoded). Figures are the medians over the rounds; the
ratio is Switchboard's rate over the reference's (below 1: the price of
doing the work the reference leaves undone).

No database or server is involved: this measures the parser alone, in the
bench process.
"""

from __future__ import annotations

import argparse
import base64
import email
import quopri
import time
from email.message import EmailMessage

from bench.results import Figure, PartResult, median

TITLE = "emails parsed per second over a mixed set (vs bare email.message_from_bytes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--copies", type=int, default=20, help="copies of each kind of message in the set (default 20)")
    parser.add_argument(
        "--rounds", type=int, default=7, help="rounds, each parsing the whole set both ways (default 7)"
    )


def _plain_reply(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <customer{n}@example.com>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = f"Re: Order {n} [#{n}]"
    msg["Message-ID"] = f"<plain{n}@example.com>"
    msg["In-Reply-To"] = f"<sb{n}.1@acme.test>"
    msg["References"] = " ".join(f"<ref{n}.{i}@example.com>" for i in range(5))
    quoted = "\n".join(f"> earlier line {i} of the conversation" for i in range(30))
    msg.set_content(
        f"Thanks, that works now.\n\nOn Mon, 23 Nov 2026 at 10:00, Acme <support@acme.test> wrote:\n{quoted}"
    )
    return msg.as_bytes()


def _czech_qp(n: int) -> bytes:
    body = quopri.encodestring(
        (f"Dobrý den, zásilka č. {n} nedorazila. Příliš žluťoučký kůň.\n" * 20).encode("iso-8859-2")
    )
    subject = (
        "=?iso-8859-2?Q?" + quopri.encodestring(f"Reklamace č. {n}".encode("iso-8859-2"), header=True).decode() + "?="
    )
    return (
        f"From: =?iso-8859-2?Q?Ji=F8=ED_Nov=E1k?= <jiri{n}@example.cz>\r\nTo: support@acme.test\r\n"
        f"Subject: {subject}\r\nMessage-ID: <cz{n}@example.cz>\r\nDate: Tue, 24 Nov 2026 08:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-2\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + body


def _polish_alternative(n: int) -> bytes:
    name = base64.b64encode("Łukasz Wróbel".encode("cp1250")).decode()
    text = (f"Dzień dobry, paczka nr {n} nie dotarła. Zażółć gęślą jaźń.\n" * 15).encode("cp1250")
    html = ("<html><body><p>Dzień dobry,</p>" + "<p>paczka <b>nie dotarła</b>.</p>" * 30 + "</body></html>").encode(
        "cp1250"
    )
    return (
        (
            f"From: =?windows-1250?B?{name}?= <lukasz{n}@example.pl>\r\n"
            f"To: support@acme.test\r\nSubject: Paczka {n}\r\nMessage-ID: <pl{n}@example.pl>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
            "--alt\r\nContent-Type: text/plain; charset=windows-1250\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + base64.encodebytes(text)
        + (
            b"--alt\r\nContent-Type: text/html; charset=windows-1250\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(html)
            + b"--alt--\r\n"
        )
    )


def _with_attachments(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"buyer{n}@example.com"
    msg["To"] = "support@acme.test"
    msg["Subject"] = f"Invoice {n} attached"
    msg["Message-ID"] = f"<att{n}@example.com>"
    msg.set_content("Please see the invoice and the photo.")
    msg.add_alternative('<p>Please see the invoice and <img src="cid:photo@x"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG" + bytes(range(256)) * 40, "image", "png", cid="<photo@x>")
    msg.add_attachment(
        b"%PDF-1.4 " + bytes(range(256)) * 400, maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    return msg.as_bytes()


def _auto_reply(n: int) -> bytes:
    return (
        f"From: away{n}@example.com\r\nTo: support@acme.test\r\nSubject: Out of office\r\n"
        f"Message-ID: <ooo{n}@example.com>\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nI am out of the office until Monday.\r\n"
    ).encode()


def _bounce(n: int) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.com\r\nTo: support@acme.test\r\nSubject: Undelivered\r\n"
        f"Message-ID: <bounce{n}@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; gone{n}@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sb{n}.1@acme.test>\r\n--r--\r\n"
    ).encode()


def _nested(n: int) -> bytes:
    raw = f"From: nested{n}@example.com\r\nSubject: nested\r\nMessage-ID: <nest{n}@x>\r\n".encode()
    for level in range(8):
        raw += b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (level, level)
    return raw + b"Content-Type: text/plain\r\n\r\ndeep inside\r\n"


KINDS = [_plain_reply, _czech_qp, _polish_alternative, _with_attachments, _auto_reply, _bounce, _nested]


def corpus(copies: int) -> list[bytes]:
    return [make(n) for n in range(copies) for make in KINDS]


def _rate(function, messages: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in messages:
        function(raw)
    return len(messages) / (time.perf_counter() - started)


def run(options: argparse.Namespace, stack) -> PartResult:
    from connectors.email.parse import parse_email

    messages = corpus(options.copies)
    for raw in messages:  # every message parses: a bench of failures would measure nothing
        parse_email(raw)
    stack.settle()
    ours, reference = [], []
    for round_ in range(options.rounds):
        # Alternate which goes first, so neither always gets the warmer cache.
        if round_ % 2:
            reference.append(_rate(email.message_from_bytes, messages))
            ours.append(_rate(parse_email, messages))
        else:
            ours.append(_rate(parse_email, messages))
            reference.append(_rate(email.message_from_bytes, messages))
    total_bytes = sum(len(m) for m in messages)
    return PartResult(
        part="email",
        figures=[
            Figure(
                "parsed_per_s",
                median(ours),
                "emails/s",
                reference=median(reference),
                reference_key="stdlib_reference_per_s",
                ratio_key="ratio",
            ),
        ],
        notes=[f"{len(messages)} messages ({len(KINDS)} kinds), {total_bytes / 1e6:.1f} MB, {options.rounds} rounds"],
        facts={"messages": len(messages), "corpus_bytes": total_bytes, "rounds": options.rounds},
    )
