"""The providers' APIs played on loopback, for embedded mode (``make run``)
and for anyone trying a channel without an account at the provider.

One small HTTP server answers as each provider's API does — the Twilio
Messages API, the Meta Graph API (WhatsApp Cloud, Messenger/Instagram send,
comment replies), the Telegram Bot API and the X API v2 — with the ids and
bodies they answer, and their error shapes. A channel uses it by setting its
``api_base`` to the server's URL; nothing inside the product is mocked.

Like Twilio, the fake Twilio posts the message's status callbacks
(``sent``, then ``delivered``) to the ``StatusCallback`` URL it was given,
signed with the auth token the request authenticated with, so a demo shows
delivery ticks arrive live. A reply whose text contains ``[fail]`` is
refused as the provider refuses a bad recipient; ``[down]`` gets a 503
(retried with backoff). Every request is kept (the last 200) and listed at
``GET /requests`` on the fake server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import threading
import urllib.parse
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

CALLBACK_DELAYS = (0.5, 1.5)  # seconds after the send: "sent", then "delivered"


class FakeProviders:
    """What was sent to the fake providers, and how each answers."""

    def __init__(self) -> None:
        self.requests: deque[dict] = deque(maxlen=200)
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict]:
        with self.lock:
            self.requests.append({"method": method, "path": path, "body": body.decode("utf-8", "replace")[:4000]})
            n = next(self.ids)
        if method == "GET" and path == "/requests":
            return 200, {"requests": list(self.requests)}
        if method != "POST":
            return 405, {"error": f"{method} is not answered here"}
        parts = [p for p in path.split("/") if p]
        if len(parts) == 4 and parts[:2] == ["2010-04-01", "Accounts"] and parts[3] == "Messages.json":
            return self._twilio(parts[2], headers, body, n)
        if parts and parts[0].startswith("bot") and parts[-1] == "sendMessage":
            return self._telegram(body, n)
        if parts[:1] == ["2"]:
            return self._x(body, n)
        if parts and parts[0].startswith("v") and parts[0][1:2].isdigit():
            return self._meta(parts[1:], body, n)
        return 404, {"error": f"no fake API at {path}"}

    # -- Twilio ------------------------------------------------------------------

    def _twilio(self, account_sid: str, headers, body: bytes, n: int) -> tuple[int, dict]:
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        text = params.get("Body", "")
        if "[down]" in text:
            return 503, {"code": 20500, "message": "Service Unavailable", "status": 503}
        if "[fail]" in text or not params.get("To"):
            return 400, {
                "code": 21211,
                "message": f"The 'To' number {params.get('To', '')} is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            }
        sid = "SM" + hashlib.sha256(f"fake-{n}".encode()).hexdigest()[:32]
        token = _basic_password(headers.get("Authorization", ""))
        callback = params.get("StatusCallback", "")
        if callback and token:
            for delay, status in zip(CALLBACK_DELAYS, ("sent", "delivered"), strict=True):
                fields = {
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "AccountSid": account_sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": params.get("To", ""),
                    "From": params.get("From", ""),
                    "ApiVersion": "2010-04-01",
                }
                timer = threading.Timer(delay, _post_twilio_callback, args=(callback, token, fields))
                timer.daemon = True
                timer.start()
        return 201, {
            "sid": sid,
            "account_sid": account_sid,
            "to": params.get("To", ""),
            "from": params.get("From", ""),
            "body": text,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }

    # -- Meta Graph API ------------------------------------------------------------

    def _meta(self, parts: list[str], body: bytes, n: int) -> tuple[int, dict]:
        sent = _json(body)
        text = json.dumps(sent)
        if "[down]" in text:
            return 503, {"error": {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}}
        if "[fail]" in text:
            return 400, {
                "error": {
                    "message": "(#131026) Message undeliverable",
                    "type": "OAuthException",
                    "code": 131026,
                    "fbtrace_id": f"fake{n}",
                }
            }
        if len(parts) == 2 and parts[1] == "messages" and sent.get("messaging_product") == "whatsapp":
            to = str(sent.get("to", ""))
            return 200, {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.fake{n}"}],
            }
        if parts == ["me", "messages"]:
            recipient = sent.get("recipient") or {}
            return 200, {"recipient_id": str(recipient.get("id", "")), "message_id": f"m_fake{n}"}
        if len(parts) == 2 and parts[1] == "comments":
            return 200, {"id": f"{parts[0]}_{n}"}
        return 400, {"error": {"message": "Unsupported post request.", "type": "GraphMethodException", "code": 100}}

    # -- Telegram Bot API ------------------------------------------------------------

    def _telegram(self, body: bytes, n: int) -> tuple[int, dict]:
        sent = _json(body)
        text = str(sent.get("text", ""))
        if "[down]" in text:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if "[fail]" in text:
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        chat = sent.get("chat_id")
        return 200, {
            "ok": True,
            "result": {"message_id": n, "date": 1764000000, "chat": {"id": chat, "type": "private"}, "text": text},
        }

    # -- X API v2 --------------------------------------------------------------------

    def _x(self, body: bytes, n: int) -> tuple[int, dict]:
        sent = _json(body)
        text = str(sent.get("text", ""))
        if "[down]" in text:
            return 503, {"title": "Service Unavailable", "detail": "Service Unavailable", "status": 503}
        if "[fail]" in text:
            return 403, {"title": "Forbidden", "detail": "You are not allowed to reply to this post.", "status": 403}
        return 201, {"data": {"id": str(1_900_000_000_000_000_000 + n), "text": text, "dm_event_id": str(n)}}


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _basic_password(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(value).decode().partition(":")[2]
    except (ValueError, UnicodeDecodeError):
        return ""


def twilio_signature(auth_token: str, url: str, fields: dict[str, str]) -> str:
    signed = url + "".join(k + v for k, v in sorted(fields.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def _post_twilio_callback(url: str, token: str, fields: dict[str, str]) -> None:
    """Post a status callback as Twilio does: form-encoded, signed."""
    request = urllib.request.Request(  # noqa: S310 (a URL our own channel gave)
        url,
        data=urllib.parse.urlencode(fields).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(token, url, fields),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
    except OSError as exc:  # the product is down or restarting: Twilio would retry, the demo just logs
        log.warning("fake Twilio could not post a status callback to %s: %s", url, exc)


def _handler(fakes: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000)) if length else b""
            status, payload = fakes.handle(method, urllib.parse.urlsplit(self.path).path, self.headers, body)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self):  # noqa: N802 (the http.server API)
            self._answer("POST")

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def log_message(self, format, *args):  # noqa: A002 (the http.server API)
            log.debug("fake providers: " + format, *args)

    return Handler


def serve(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, FakeProviders]:
    """Start the fake providers in a daemon thread; returns the server (its
    ``server_address`` holds the port) and what it records."""
    fakes = FakeProviders()
    server = ThreadingHTTPServer((host, port), _handler(fakes))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-providers", daemon=True).start()
    return server, fakes
