"""Fixtures for the Meta provider: channels, signed webhook calls, real
payload shapes, and a local Graph API server on loopback that records what
it is sent and answers like Meta (ids, error objects, 5xx)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from connectors.models import Channel
from connectors.providers.meta import SIGNATURE_HEADER, sign
from tests import factories

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"
PHONE_NUMBER_ID = "106540352242922"
PAGE_ID = "112233445566"
IG_ID = "17841400000000001"


def meta_channel(key: str, kind: str, *, queue=None, **config) -> Channel:
    return Channel.objects.create(
        key=key,
        name=key.title(),
        kind=kind,
        provider="meta",
        secret=APP_SECRET,
        default_queue=queue,
        config={"verify_token": VERIFY_TOKEN, "access_token": "EAAG-test-token", **config},
    )


def post(client, channel: Channel, body: dict | bytes, *, signature: str | None = "good"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signature == "good":
        headers["HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")] = sign(APP_SECRET, raw)
    elif signature is not None:
        headers["HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")] = signature
    return client.post(f"/hooks/{channel.key}/", data=raw, content_type="application/json", **headers)


@pytest.fixture
def send_meta(client, django_capture_on_commit_callbacks):
    """POST a body signed with the app secret and run the work it schedules."""

    def _send(channel, body, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, channel, body, **kwargs)

    return _send


# -- payloads in Meta's documented shapes ---------------------------------------


def whatsapp_body(*messages, statuses=(), contacts=None, phone_number_id=PHONE_NUMBER_ID) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = (
            contacts
            if contacts is not None
            else [{"profile": {"name": "Sheena Nelson"}, "wa_id": m["from"]} for m in messages[:1]]
        )
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def wa_message(message_id: str, kind: str = "text", /, *, sender: str = "16505551234", ts: str = "1749416383", **body):
    content = body or ({"body": "Hi, my order did not arrive"} if kind == "text" else {})
    return {"from": sender, "id": message_id, "timestamp": ts, "type": kind, kind: content}


def wa_status(message_id: str, status: str, *, errors=None) -> dict:
    out = {
        "id": message_id,
        "status": status,
        "timestamp": "1750263773",
        "recipient_id": "16505551234",
        "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"},
    }
    if errors:
        out["errors"] = errors
    return out


def page_body(*events, obj: str = "page", owner: str = PAGE_ID, changes=None) -> dict:
    entry = {"id": owner, "time": 1458692752478}
    if events:
        entry["messaging"] = list(events)
    if changes:
        entry["changes"] = changes
    return {"object": obj, "entry": [entry]}


def messaging(sender: str, owner: str = PAGE_ID, **event) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": owner}, "timestamp": 1458692752478, **event}


def feed_comment(comment_id: str, *, post_id: str = f"{PAGE_ID}_900", author="5550001", verb="add", text="Great!"):
    return {
        "field": "feed",
        "value": {
            "from": {"id": author, "name": "Jane Doe"},
            "post": {"status_type": "added_photos", "is_published": True, "id": post_id},
            "message": text,
            "post_id": post_id,
            "comment_id": comment_id,
            "created_time": 1722859012,
            "item": "comment",
            "parent_id": post_id,
            "verb": verb,
        },
    }


# -- the Graph API, played on loopback ------------------------------------------


class GraphApi(BaseHTTPRequestHandler):
    """Answers like the Graph API; ``answers`` queues (status, body) for the next calls."""

    requests: list[dict] = []
    answers: list[tuple[int, dict]] = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if type(self).answers:
            status, answer = type(self).answers.pop(0)
        elif self.path.endswith("/comments"):
            status, answer = 200, {"id": f"{PAGE_ID}_900_reply{len(type(self).requests)}"}
        elif body.get("messaging_product") == "whatsapp":
            status = 200
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": f"wamid.OUT{len(type(self).requests)}"}],
            }
        else:
            status, answer = 200, {"recipient_id": "1254459154682919", "message_id": f"m_OUT{len(type(self).requests)}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def graph_api():
    GraphApi.requests, GraphApi.answers = [], []
    server = HTTPServer(("127.0.0.1", 0), GraphApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", GraphApi
    server.shutdown()
    server.server_close()


@pytest.fixture
def agent_for_all():
    """An agent who takes every Meta channel kind, on queues that auto-accept."""
    return factories.agent("ana", capacity={"whatsapp": 3, "messenger": 3, "instagram": 3, "social": 3})
