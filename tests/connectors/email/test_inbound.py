"""Mail in through the channel's hook (raw MIME): stored first, once; a case
per thread; replies join their case; noise never opens one."""

from __future__ import annotations

import base64

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.events import EscalationRaised
from cases.models import Case, CaseStatus, Identity, Message
from config import events
from connectors.email.models import EmailAttachment, EmailDetail
from connectors.models import InboundEvent
from tests.connectors.email.conftest import mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent():
    from tests import factories

    return factories.agent("ana")


@pytest.fixture
def escalations():
    seen: list[EscalationRaised] = []
    events.subscribe(EscalationRaised, seen.append)
    yield seen
    events.unsubscribe(EscalationRaised, seen.append)


def test_a_new_mail_opens_a_case_for_the_sender(mailbox, post_mail, agent):
    response = post_mail(mailbox, mail(subject="Objednávka 77", text="Dobrý den, zásilka nedorazila."))

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.PROCESSED and event.dedupe_key == "m1@example.cz"
    message = event.message
    assert message.text == "Dobrý den, zásilka nedorazila."
    assert message.provider_message_id == "m1@example.cz"
    case = message.case
    assert (case.subject, case.channel_kind, case.status) == ("Objednávka 77", "email", CaseStatus.ASSIGNED)
    assert case.customer.display_name == "Jiří Novák"
    assert Identity.objects.get(customer=case.customer).address == "jiri@example.cz"


def test_the_same_mail_twice_is_stored_once(mailbox, post_mail):
    assert post_mail(mailbox, mail()).status_code == 202
    again = post_mail(mailbox, mail())

    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_a_mail_without_message_id_is_deduplicated_by_its_bytes(mailbox, post_mail):
    raw = mail(message_id=None)
    post_mail(mailbox, raw)
    assert post_mail(mailbox, raw).json()["status"] == "duplicate"
    assert Message.objects.count() == 1


def test_a_bad_signature_is_refused_and_nothing_is_stored(mailbox, post_mail):
    response = post_mail(mailbox, mail(), signature="sha256=00")
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_body_that_is_not_raw_mime_is_refused_with_a_reason_and_kept(mailbox, post_mail):
    response = post_mail(mailbox, b'{"text": "hi"}', content_type="application/json")
    assert response.status_code == 400
    assert "message/rfc822" in response.json()["detail"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED


def test_mail_without_a_sender_is_kept_failed_with_a_clear_error(mailbox, post_mail):
    response = post_mail(mailbox, b"Subject: who am I\r\nMessage-ID: <anon@x>\r\n\r\nno From header")
    assert response.status_code == 202  # stored first; normalizing it then fails
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert "no sender address" in event.error
    assert bytes(event.body).startswith(b"Subject: who am I")
    assert not Case.objects.exists()


def test_html_is_sanitized_and_the_quoted_history_kept_aside(mailbox, post_mail):
    text = "Still broken.\n\nOn Mon, 23 Nov 2026 at 10:00, Acme <support@acme.test> wrote:\n> Try restarting it."
    html = '<p onclick="x()">Still broken.</p><script>alert(1)</script><a href="javascript:x()">link</a>'
    post_mail(mailbox, mail(text=text, html=html))

    message = Message.objects.get()
    assert message.text == "Still broken."
    assert "<script" not in message.html and "onclick" not in message.html and "javascript:" not in message.html
    assert "Still broken." in message.html
    detail = EmailDetail.objects.get()
    assert detail.quoted_text.startswith("On Mon, 23 Nov 2026") and "> Try restarting it." in detail.quoted_text


def test_a_reply_joins_its_case_through_in_reply_to(mailbox, post_mail):
    post_mail(mailbox, mail(message_id="<first@example.cz>"))
    post_mail(
        mailbox,
        mail(
            message_id="<second@example.cz>",
            subject="Re: Order 77",
            headers={"In-Reply-To": "<first@example.cz>", "References": "<first@example.cz>"},
        ),
    )
    first, second = Message.objects.order_by("pk")
    assert first.case_id == second.case_id
    assert Case.objects.count() == 1


def test_a_reply_to_our_own_reply_joins_the_case(mailbox, post_mail, agent, django_capture_on_commit_callbacks):
    post_mail(mailbox, mail(message_id="<first@example.cz>"))
    case = Case.objects.get()
    outbound = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        channel=mailbox,
        channel_kind="email",
        provider_message_id="sb7.123@switchboard.test",
        text="We are on it",
        delivery_status=Message.Delivery.SENT,
        created_at=timezone.now(),
    )
    post_mail(
        mailbox, mail(message_id="<third@example.cz>", headers={"In-Reply-To": f"<{outbound.provider_message_id}>"})
    )
    assert Message.objects.get(provider_message_id="third@example.cz").case_id == case.pk


def test_the_case_reference_in_the_subject_is_the_fallback(mailbox, post_mail):
    post_mail(mailbox, mail(message_id="<first@example.cz>"))
    case = Case.objects.get()
    post_mail(mailbox, mail(message_id="<fresh@example.cz>", subject=f"Re: Order 77 [#{case.pk}]"))

    assert Message.objects.get(provider_message_id="fresh@example.cz").case_id == case.pk


def test_a_case_reference_from_someone_else_opens_their_own_case(mailbox, post_mail):
    post_mail(mailbox, mail(message_id="<first@example.cz>"))
    case = Case.objects.get()
    post_mail(mailbox, mail(message_id="<intruder@evil.test>", sender="x@evil.test", subject=f"Re: [#{case.pk}]"))
    assert Message.objects.get(provider_message_id="intruder@evil.test").case_id != case.pk


def test_a_new_thread_from_the_same_customer_starts_a_new_case(mailbox, post_mail):
    post_mail(mailbox, mail(message_id="<first@example.cz>", subject="Order 77"))
    post_mail(mailbox, mail(message_id="<other@example.cz>", subject="Invoice question"))
    assert Case.objects.count() == 2


@pytest.mark.parametrize(
    "header, value",
    [
        ("Auto-Submitted", "auto-replied"),
        ("X-Autoreply", "yes"),
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "list"),
        ("X-Auto-Response-Suppress", "All"),
    ],
)
def test_auto_replies_never_open_a_case_nor_get_an_answer(mailbox, post_mail, smtp_server, header, value):
    response = post_mail(mailbox, mail(text="I am out of office until Monday.", headers={header: value}))

    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED
    assert not Case.objects.exists() and not Message.objects.exists()
    assert EmailDetail.objects.get(event=event).automated.startswith(header)
    assert smtp_server.envelopes == []  # nothing was sent back


def _bounce(original_id: str) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: support@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.example.com>\r\n"
        b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; jiri@example.cz\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <jiri@example.cz>: user unknown\r\n"
        b"--r\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@acme.test\r\nTo: jiri@example.cz\r\n"
        b"Message-ID: <" + original_id.encode() + b">\r\nSubject: Re: Order 77\r\n\r\nWe are on it\r\n--r--\r\n"
    )


def test_a_bounce_marks_our_reply_failed_and_escalates_instead_of_opening_a_case(mailbox, post_mail, escalations):
    post_mail(mailbox, mail())
    case = Case.objects.get()
    outbound = Message.objects.create(
        case=case,
        direction=Message.Direction.OUTBOUND,
        channel=mailbox,
        channel_kind="email",
        provider_message_id="sb9.1@switchboard.test",
        text="We are on it",
        delivery_status=Message.Delivery.SENT,
        created_at=timezone.now(),
    )
    response = post_mail(mailbox, _bounce(outbound.provider_message_id))

    assert response.status_code == 202
    outbound.refresh_from_db()
    assert outbound.delivery_status == Message.Delivery.FAILED
    assert "5.1.1" in outbound.delivery_error and "user unknown" in outbound.delivery_error
    assert Case.objects.count() == 1 and Message.objects.count() == 2
    assert [(e.kind, e.case_id) for e in escalations] == [("outbound_failed", case.pk)]


def test_a_bounce_for_an_unknown_message_changes_nothing(mailbox, post_mail, escalations):
    post_mail(mailbox, _bounce("unknown@elsewhere"))
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert not Case.objects.exists() and escalations == []


def _with_files(small: bytes, big: bytes) -> bytes:
    b64 = base64.encodebytes
    return (
        b"From: jiri@example.cz\r\nTo: support@acme.test\r\nSubject: Photos\r\nMessage-ID: <files@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
        b'--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See <img src="cid:pic@x"></p>\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <pic@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(small)
        + b"--r--\r\n--m\r\nContent-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="big.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(big)
        + b"--m--\r\n"
    )


def test_attachments_are_stored_within_the_size_limits(mailbox, post_mail, settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"EMAIL_MAX_ATTACHMENT_BYTES": 1000}
    post_mail(mailbox, _with_files(b"\x89PNG" + b"p" * 100, b"z" * 5000))

    message = Message.objects.get()
    picture, archive = EmailAttachment.objects.order_by("index")
    assert picture.inline and picture.file and picture.file.read() == b"\x89PNG" + b"p" * 100
    assert archive.name == "big.zip" and not archive.file and archive.size == 5000 and "limit" in archive.skipped
    assert [a["name"] for a in message.attachments] == [picture.name, "big.zip"]
    assert message.attachments[1]["url"] == "" and message.attachments[0]["url"] == picture.file.url
    assert f'src="{picture.file.url}"' in message.html  # the inline image, linked to its stored file


def test_a_replayed_mail_stores_its_attachments_once(mailbox, post_mail):
    post_mail(mailbox, _with_files(b"png", b"zip"))
    event = InboundEvent.objects.get()
    event.status = InboundEvent.Status.FAILED
    event.save()
    Message.objects.all().delete()
    from connectors import services

    services.replay_events(event_ids=[event.pk], now=timezone.now())
    assert EmailAttachment.objects.filter(event=event).count() == 2
    assert Message.objects.count() == 1


def test_customer_replies_after_resolution_reopen_the_case(mailbox, post_mail, agent):
    post_mail(mailbox, mail(message_id="<first@example.cz>"))
    case = Case.objects.get()
    case_services.resolve_case(case_id=case.pk, agent=agent, now=timezone.now())
    post_mail(mailbox, mail(message_id="<after@example.cz>", headers={"In-Reply-To": "<first@example.cz>"}))
    case.refresh_from_db()
    assert case.status != CaseStatus.RESOLVED
    assert Message.objects.get(provider_message_id="after@example.cz").case_id == case.pk


def test_a_stored_file_is_served_only_to_staff_who_may_see_the_case(mailbox, post_mail, client, agent):
    from tests import factories

    post_mail(mailbox, _with_files(b"\x89PNG" + b"p" * 100, b"<script>alert(1)</script>"))
    case = Message.objects.get().case
    assert case.assignee == agent  # the mailbox's queue assigns at once
    picture, page = EmailAttachment.objects.order_by("index")
    assert picture.file and page.file

    assert client.get(picture.file.url).status_code == 302  # anonymous: to the login page
    client.force_login(factories.agent("ben").user)  # another agent: the case is not theirs
    assert client.get(picture.file.url).status_code == 404

    client.force_login(agent.user)
    shown = client.get(picture.file.url)
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert b"".join(shown.streaming_content) == b"\x89PNG" + b"p" * 100
    downloaded = client.get(page.file.url)
    assert downloaded.status_code == 200
    assert downloaded["Content-Type"] == "application/octet-stream"  # never rendered as a page of ours
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert downloaded["X-Content-Type-Options"] == "nosniff"
    assert client.get("/media/email/nope.png").status_code == 404
