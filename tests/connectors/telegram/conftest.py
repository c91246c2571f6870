"""Telegram fixtures: a channel, a signed (secret-token) webhook sender, and
the Bot API played by a local HTTP server on loopback that records every
request and answers like Telegram (``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …}``)."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.models import Channel
from tests import factories

BOT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


class FakeTelegram:
    """What the Bot API received, and what it will answer next."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: deque[tuple[int, dict | None]] = deque()  # None: drop the connection
        self.next_message_id = 500
        self.lock = threading.Lock()

    def answer(self, status: int, body: dict | None) -> None:
        self.answers.append((status, body))

    def handle(self, path: str, body: bytes) -> tuple[int, dict | None]:
        with self.lock:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            self.requests.append({"path": path, "json": sent})
            if self.answers:
                return self.answers.popleft()
            self.next_message_id += 1
            chat = sent.get("chat_id") if isinstance(sent, dict) else None
            result = {"message_id": self.next_message_id, "date": 1764000000, "chat": {"id": chat, "type": "private"}}
            return 200, {"ok": True, "result": result | {"text": sent.get("text") if isinstance(sent, dict) else ""}}


@pytest.fixture
def telegram_api():
    fake = FakeTelegram()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = fake.handle(self.path, body)
            if answer is None:
                self.close_connection = True  # the provider hung up: no answer at all
                return
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.base = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def tg_channel(telegram_api):
    queue = factories.queue("Telegram", auto_accept=True)
    return Channel.objects.create(
        key="tg",
        name="Support bot",
        kind="telegram",
        provider="telegram",
        default_queue=queue,
        config={"bot_token": BOT_TOKEN, "api_base": telegram_api.base},
    )


@pytest.fixture
def tg_post(client, django_capture_on_commit_callbacks):
    """POST an update as Telegram does (secret in the header), running the
    work it schedules at commit. ``secret=None`` leaves the header out."""

    def _post(channel, update, *, secret: str | None = "channel"):
        raw = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {}
        if secret is not None:
            headers["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = channel.secret if secret == "channel" else secret
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/hooks/{channel.key}/", data=raw, content_type="application/json", **headers)

    return _post
