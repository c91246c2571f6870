"""X fixtures: a social channel, a webhook sender that signs bodies as X does,
and the X API v2 played by a local HTTP server on loopback that records every
request and answers like X (``{"data": …}`` or ``{"title", "detail", "status"}``)."""

from __future__ import annotations

import json
import threading
from collections import deque

import pytest

from connectors.models import Channel
from connectors.providers.x_social import sign
from tests.loopback import json_api

BRAND_ID = "2244994945"
CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
ACCESS_TOKEN = "bWVkaWEtdGVzdC10b2tlbi1mb3ItdGhlLWJyYW5k"


class FakeX:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: deque[tuple[int, dict | None]] = deque()  # None: drop the connection
        self.next_id = 1860000000000000000
        self.lock = threading.Lock()

    def answer(self, status: int, body: dict | None) -> None:
        self.answers.append((status, body))

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict | None]:
        with self.lock:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            self.requests.append({"path": path, "authorization": headers.get("Authorization"), "json": sent})
            if self.answers:
                return self.answers.popleft()
            self.next_id += 1
            if path == "/2/tweets":
                return 201, {"data": {"id": str(self.next_id), "edit_history_tweet_ids": [str(self.next_id)]}}
            if path.startswith("/2/dm_conversations/with/"):
                return 201, {"data": {"dm_conversation_id": "2244994945-6253282", "dm_event_id": str(self.next_id)}}
            return 404, {"title": "Not Found Error", "detail": f"no route {path}", "status": 404}


@pytest.fixture
def x_api():
    fake = FakeX()
    with json_api(fake.handle) as base:
        fake.base = base
        yield fake


@pytest.fixture
def x_channel(x_api):
    from tests import factories

    queue = factories.queue("Social", auto_accept=True)
    return Channel.objects.create(
        key="x-brand",
        name="@TwitterDev",
        kind="social",
        provider="x_social",
        secret=CONSUMER_SECRET,
        default_queue=queue,
        config={"access_token": ACCESS_TOKEN, "api_base": x_api.base, "user_id": BRAND_ID},
    )


@pytest.fixture
def x_post(client, django_capture_on_commit_callbacks):
    """POST an account activity event signed as X signs it, running the work
    it schedules at commit. ``signature=None`` leaves the header out."""

    def _post(channel, event, *, signature: str | None = "right"):
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = {}
        if signature is not None:
            headers["HTTP_X_TWITTER_WEBHOOKS_SIGNATURE"] = (
                sign(channel.secret, raw) if signature == "right" else signature
            )
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/hooks/{channel.key}/", data=raw, content_type="application/json", **headers)

    return _post
