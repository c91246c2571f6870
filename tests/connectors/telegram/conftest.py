"""Telegram fixtures: a channel, a signed (secret-token) webhook sender, and
the Bot API played by a local HTTP server on loopback that records every
request and answers like Telegram (``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …}``)."""

from __future__ import annotations

import json
import threading
from collections import deque

import pytest

from connectors.models import Channel
from tests import factories
from tests.loopback import json_api

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
    with json_api(lambda path, headers, body: fake.handle(path, body)) as base:
        fake.base = base
        yield fake


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
