"""The IMAP poller (``manage.py fetch_mail`` and the periodic task).

A channel reads a mailbox when its config has an ``imap`` block::

    {"address": "support@example.com",
     "imap": {"host": "imap.example.com", "port": 993, "ssl": true, "starttls": false,
              "user": "support@example.com", "password_env": "SUPPORT_IMAP_PASSWORD",
              "folder": "INBOX"}}

Each new message (by UID, above the last one read; a changed UIDVALIDITY
starts over, harmlessly, since the Message-ID dedupes) is fetched without
marking it read, stored first as an ``InboundEvent``, and only then flagged
``\\Seen`` and remembered in ``MailboxState``. A crash in between fetches it
again next time and the dedupe key drops the copy: nothing lost, nothing
twice. ``wait_for_mail`` uses IDLE (RFC 2177) where the server has it.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import re
import select
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

from connectors.email.inbound import store_mail
from connectors.email.models import MailboxState
from connectors.models import Channel

log = logging.getLogger(__name__)

BATCH = 200


class MailboxError(Exception):
    """The mailbox cannot be read: bad settings, login refused, server gone."""


@dataclass(slots=True)
class PollResult:
    channel: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    error: str = ""


def imap_config(channel: Channel) -> dict:
    config = dict((channel.config or {}).get("imap") or {})
    if not config.get("host") or not config.get("user"):
        raise MailboxError(f"channel {channel.key}: config.imap needs host and user")
    use_ssl = bool(config.get("ssl", True))
    config.setdefault("port", 993 if use_ssl else 143)
    config["ssl"] = use_ssl
    config.setdefault("folder", "INBOX")
    if config.get("password_env"):
        config["password"] = os.environ.get(config["password_env"], "")
    return config


def imap_channels() -> list[Channel]:
    return [c for c in Channel.objects.filter(is_active=True, provider="email") if (c.config or {}).get("imap")]


def connect(config: dict, timeout: float = 30) -> imaplib.IMAP4:
    try:
        if config["ssl"]:
            conn = imaplib.IMAP4_SSL(config["host"], int(config["port"]), timeout=timeout)
        else:
            conn = imaplib.IMAP4(config["host"], int(config["port"]), timeout=timeout)
            if config.get("starttls"):
                conn.starttls(ssl.create_default_context())
        conn.login(config["user"], config.get("password", ""))
        typ, _ = conn.select(_quoted(config["folder"]))
        if typ != "OK":
            raise MailboxError(f"cannot open folder {config['folder']!r}")
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"{config['host']}:{config['port']}: {exc}") from exc
    return conn


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def poll_mailbox(*, channel: Channel, now: datetime, conn: imaplib.IMAP4 | None = None) -> PollResult:
    """Fetch and store what is new in the channel's mailbox."""
    result = PollResult(channel=channel.key)
    own = conn is None
    try:
        config = imap_config(channel)
        if own:
            conn = connect(config)
        _poll(conn=conn, channel=channel, folder=config["folder"], now=now, result=result)
    except (MailboxError, imaplib.IMAP4.error, OSError) as exc:
        result.error = str(exc) or type(exc).__name__
        MailboxState.objects.filter(channel=channel).update(error=result.error[:2000], polled_at=now)
        log.warning("mailbox of channel %s: %s", channel.key, result.error)
    finally:
        if own and conn is not None:
            logout(conn)
    return result


def _poll(*, conn: imaplib.IMAP4, channel: Channel, folder: str, now: datetime, result: PollResult) -> None:
    conn.noop()  # refreshes UIDVALIDITY/EXISTS on a long-lived connection
    uidvalidity = int((conn.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
    if not uidvalidity:
        typ, data = conn.status(_quoted(folder), "(UIDVALIDITY)")
        found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"") if typ == "OK" else None
        uidvalidity = int(found.group(1)) if found else 0
    state, _ = MailboxState.objects.get_or_create(channel=channel, folder=folder)
    if state.uidvalidity != uidvalidity:
        state.uidvalidity, state.last_uid = uidvalidity, 0
    typ, data = conn.uid("SEARCH", None, f"UID {state.last_uid + 1}:*")
    if typ != "OK":
        raise MailboxError(f"UID SEARCH failed: {data!r}")
    uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)[:BATCH]
    for uid in uids:
        raw = _fetch(conn, uid)
        result.fetched += 1
        if raw is not None:
            stored = store_mail(channel=channel, raw=raw, source="imap", now=now, folder=folder, uid=str(uid))
            if stored.body.get("status") == "duplicate":
                result.duplicates += 1
            else:
                result.stored += 1
            conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)")
        state.last_uid = uid
        state.save(update_fields=["uidvalidity", "last_uid"])
    state.polled_at, state.error = now, ""
    state.save()


def _fetch(conn: imaplib.IMAP4, uid: int) -> bytes | None:
    typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if typ != "OK":
        raise MailboxError(f"UID FETCH {uid} failed: {data!r}")
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged meanwhile


def logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()


def supports_idle(conn: imaplib.IMAP4) -> bool:
    return "IDLE" in conn.capabilities


def wait_for_mail(conn: imaplib.IMAP4, timeout: float) -> bool:
    """IDLE until the server announces new mail or ``timeout`` seconds pass
    (keep it under 29 minutes, RFC 2177). True when mail arrived."""
    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    line = conn.readline()
    if not line.startswith(b"+"):
        raise MailboxError(f"IDLE refused: {line.strip()!r}")
    arrived = False
    deadline = time.monotonic() + timeout
    while not arrived:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([conn.sock], [], [], min(remaining, 60))
        if not readable:
            continue
        line = conn.readline()
        if not line:
            raise MailboxError("the IMAP server closed the connection")
        arrived = bool(re.match(rb"\* \d+ (EXISTS|RECENT)", line))
    conn.send(b"DONE\r\n")
    while True:
        line = conn.readline()
        if not line:
            raise MailboxError("the IMAP server closed the connection")
        if line.startswith(tag):
            return arrived


def poll_all(*, now: datetime) -> list[PollResult]:
    return [poll_mailbox(channel=channel, now=now) for channel in imap_channels()]
