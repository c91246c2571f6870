"""Fixtures for the email tests: a mailbox channel, raw mail built like mail
clients build it, a real SMTP server on loopback that records what it is
sent, and a private Dovecot (IMAP) on loopback."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from connectors.models import Channel
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from tests import factories

MAILBOX = "support@acme.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mailbox(db):
    """The support mailbox channel, its cases going to an auto-accept queue."""
    queue = factories.queue("Email", auto_accept=True)
    return Channel.objects.create(
        key="support-mail",
        name="Acme Support",
        kind="email",
        provider="email",
        default_queue=queue,
        config={"address": MAILBOX},
    )


def mail(
    *,
    text: str = "Hello, my order has not arrived.",
    subject: str = "Order 77",
    sender: str = "Jiří Novák <jiri@example.cz>",
    message_id: str | None = "<m1@example.cz>",
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A message as a mail client sends it (UTF-8, encoded words where needed)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Date"] = "Tue, 24 Nov 2026 08:00:00 +0100"
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


@pytest.fixture
def post_mail(client, django_capture_on_commit_callbacks):
    """POST raw MIME, signed, to a channel's hook; run its on-commit work."""

    def _post(channel, raw: bytes, *, content_type: str = "message/rfc822", signature: str | None = None):
        header = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/hooks/{channel.key}/",
                data=raw,
                content_type=content_type,
                **{header: signature if signature is not None else sign(channel.secret, raw)},
            )

    return _post


class _Recorder:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; Django's SMTP backend sends to it."""
    recorder = _Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, server_hostname="sink.test")
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield recorder
    controller.stop()


# --- Dovecot --------------------------------------------------------------

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{base}/mail/%u
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


class Dovecot:
    user = "support"
    password = "dovecot-test-pw"

    def __init__(self, binary: str):
        self.binary = binary
        self.base = Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.conf = self.base / "dovecot.conf"

    def start(self) -> None:
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("nobody")
            users = ""  # dovecot's own defaults: dovecot and dovenull
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            users = f"default_internal_user = {mail_user.pw_name}\ndefault_login_user = {mail_user.pw_name}\n"
        for sub in ("mail", "home"):
            (self.base / sub).mkdir()
            os.chown(self.base / sub, mail_user.pw_uid, mail_user.pw_gid)
        passwd = self.base / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        passwd.chmod(0o644)
        self.conf.write_text(
            DOVECOT_CONF.format(base=self.base, users=users, uid=mail_user.pw_uid, gid=mail_user.pw_gid, port=self.port)
        )
        # The daemon keeps its inherited descriptors: give it files, not pipes.
        with open(self.base / "start.log", "w+") as out:
            done = subprocess.run(  # noqa: S603 (our own Dovecot binary and config)
                [self.binary, "-c", str(self.conf)], stdout=out, stderr=out, timeout=30
            )
            out.seek(0)
            if done.returncode != 0:
                raise RuntimeError(f"dovecot did not start: {out.read().strip()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                conn = self.connect()
            except OSError:
                time.sleep(0.1)
                continue
            conn.logout()
            return
        log = (self.base / "dovecot.log").read_text() if (self.base / "dovecot.log").exists() else ""
        raise RuntimeError(f"dovecot does not answer on 127.0.0.1:{self.port}: {log[-2000:]}")

    def stop(self) -> None:
        subprocess.run(  # noqa: S603 (our own Dovecot binary and config)
            [self.binary, "-c", str(self.conf), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.connect()
        try:
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def clear(self, folder: str = "INBOX") -> None:
        conn = self.connect()
        try:
            typ, data = conn.select(folder)
            if int(data[0]):
                conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                conn.expunge()
        finally:
            conn.logout()


def _require(reason: str):
    """In CI a missing IMAP server is a failure; elsewhere a clear skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the IMAP tests: see tests/setup-system.sh)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dovecot_server():
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        _require("Dovecot is not installed: tests/setup-system.sh installs Debian's dovecot-imapd")
    server = Dovecot(binary)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        _require(f"Dovecot could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture
def dovecot(dovecot_server):
    dovecot_server.clear()
    yield dovecot_server
    dovecot_server.clear()
