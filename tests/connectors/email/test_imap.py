"""The IMAP poller against a real Dovecot on loopback: new mail is stored
first, then flagged read; nothing is fetched twice into two events; IDLE
wakes the poller when mail arrives."""

from __future__ import annotations

import imaplib
import threading

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Case, Message
from connectors.email import imap
from connectors.email.models import MailboxState
from connectors.models import InboundEvent
from tests.connectors.email.conftest import mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def imap_mailbox(mailbox, dovecot, monkeypatch):
    monkeypatch.setenv("SB_TEST_IMAP_PASSWORD", dovecot.password)
    mailbox.config = mailbox.config | {
        "imap": {
            "host": "127.0.0.1",
            "port": dovecot.port,
            "ssl": False,
            "user": dovecot.user,
            "password_env": "SB_TEST_IMAP_PASSWORD",
        }
    }
    mailbox.save()
    return mailbox


@pytest.fixture
def at_commit(django_capture_on_commit_callbacks):
    """Run what storing schedules at commit (normalizing), as production does."""

    def _run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return _run


def _seen_flags(dovecot) -> list[bool]:
    conn = dovecot.connect()
    try:
        conn.select("INBOX", readonly=True)
        typ, data = conn.fetch("1:*", "(FLAGS)")
        return [b"\\Seen" in line for line in data if line]
    finally:
        conn.logout()


def test_fetch_mail_stores_new_messages_and_marks_them_read(imap_mailbox, dovecot, capsys, at_commit):
    dovecot.append(mail(message_id="<i1@example.cz>", subject="První"))
    dovecot.append(mail(message_id="<i2@example.cz>", subject="Druhá", sender="anna@example.pl"))

    at_commit(call_command, "fetch_mail")

    assert "2 fetched, 2 stored, 0 duplicates" in capsys.readouterr().out
    assert set(InboundEvent.objects.values_list("dedupe_key", flat=True)) == {"i1@example.cz", "i2@example.cz"}
    assert all(e.headers["X-Switchboard-Source"] == "imap" for e in InboundEvent.objects.all())
    assert sorted(Case.objects.values_list("subject", flat=True)) == ["Druhá", "První"]
    assert _seen_flags(dovecot) == [True, True]


def test_a_second_poll_fetches_only_what_is_new(imap_mailbox, dovecot, at_commit):
    dovecot.append(mail(message_id="<i1@example.cz>"))
    first = at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now())
    dovecot.append(mail(message_id="<i2@example.cz>", subject="Other"))
    second = at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now())

    assert (first.fetched, second.fetched, second.stored) == (1, 1, 1)
    assert at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now()).fetched == 0
    assert Message.objects.count() == 2


def test_fetching_again_after_a_crash_stores_nothing_twice(imap_mailbox, dovecot, at_commit):
    dovecot.append(mail(message_id="<i1@example.cz>"))
    at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now())
    MailboxState.objects.update(last_uid=0)  # as if the poller died before remembering

    again = at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now())

    assert (again.fetched, again.stored, again.duplicates) == (1, 0, 1)
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_idle_wakes_up_when_mail_arrives(imap_mailbox, dovecot, at_commit):
    conn = imap.connect(imap.imap_config(imap_mailbox))
    try:
        assert imap.supports_idle(conn)
        at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now(), conn=conn)
        sender = threading.Timer(0.5, dovecot.append, args=[mail(message_id="<idle@example.cz>")])
        sender.start()
        arrived = imap.wait_for_mail(conn, timeout=30)
        sender.join()
        result = at_commit(imap.poll_mailbox, channel=imap_mailbox, now=timezone.now(), conn=conn)
    finally:
        imap.logout(conn)
    assert arrived
    assert result.stored == 1
    assert Message.objects.get().provider_message_id == "idle@example.cz"


def test_a_refused_login_is_a_clear_command_error(imap_mailbox, monkeypatch, capsys):
    monkeypatch.setenv("SB_TEST_IMAP_PASSWORD", "wrong")
    with pytest.raises(CommandError, match="could not be read"):
        call_command("fetch_mail")
    assert "support-mail:" in capsys.readouterr().err
    assert not InboundEvent.objects.exists()


def test_fetch_mail_names_an_unknown_channel(imap_mailbox):
    with pytest.raises(CommandError, match="not-here"):
        call_command("fetch_mail", "--channel", "not-here")


def test_the_dovecot_under_test_is_a_real_imap_server(dovecot):
    conn = dovecot.connect()
    try:
        assert isinstance(conn, imaplib.IMAP4) and "IDLE" in conn.capabilities
    finally:
        conn.logout()


def test_the_periodic_task_reads_every_mailbox(imap_mailbox, dovecot, at_commit):
    from connectors.tasks import fetch_mail

    dovecot.append(mail(message_id="<beat@example.cz>"))
    at_commit(fetch_mail)

    assert Message.objects.get().provider_message_id == "beat@example.cz"
    assert MailboxState.objects.get(channel=imap_mailbox).last_uid > 0
