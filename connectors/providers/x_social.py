"""X (Twitter): public mentions and direct messages, Account Activity style.

Register ``https://<host>/hooks/<channel-key>/`` as the app's Account Activity
webhook and subscribe the brand's account to it. The channel's ``secret`` is
the X app's **consumer secret** (API key secret):

- the CRC check, ``GET /hooks/<key>/?crc_token=…``, is answered with
  ``{"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token))}``;
- every ``POST`` carries ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256
  of the raw body with the consumer secret>``; without it, or with another, 403
  and nothing stored.

What a delivery becomes (one delivery may carry several events; each is its
own message, deduped by its own id):

- ``tweet_create_events``: a post that mentions the brand (or replies to it)
  is a customer message on a ``social`` case. Its thread: the case of the post
  it replies to when we know that post (a conversation stays one case),
  otherwise a thread of its own (``tweet:<id>``). The post's creation time is
  kept as the message's ``sent_at``; the time from it to the agent's first
  answer is recorded on the case timeline (``reaction_seconds``). The brand's
  own posts and reposts are ignored.
- ``direct_message_events`` (``message_create``): a private message; the
  thread is the sender (``dm:<user id>``). The echo of the brand's own DMs is
  ignored.
- every other event (likes, follows, typing, read receipts…): stored and
  ignored.

Replies (channel config ``access_token``: an OAuth 2.0 user token of the brand
with ``tweet.write`` and ``dm.write``; ``api_base``, default
``https://api.x.com``): on a post thread a public reply, ``POST /2/tweets`` with
``reply.in_reply_to_tweet_id`` = the customer's latest post; on a DM thread, or
on any thread when the channel's config says ``"reply_as": "dm"``, a private
message, ``POST /2/dm_conversations/with/<user id>/messages``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from connectors.providers.base import PayloadInvalid, SendResult, SignatureInvalid, signatures_match
from connectors.providers.base import header as _header
from connectors.providers.base import obj as _obj
from connectors.providers.base import text as _str

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
DEFAULT_API_BASE = "https://api.x.com"
TEXT_LIMIT = 10_000
_EVENT_LISTS = ("tweet_create_events", "direct_message_events")


def sign(secret: str, data: bytes) -> str:
    """X's scheme, for the CRC response and the POST signature alike."""
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def _id(value: Any) -> str:
    """An X id: ``id_str`` (digits) preferred; '' when it is not one."""
    text = value if isinstance(value, str) else ""
    return text if text.isascii() and text.isdigit() and len(text) <= 32 else ""


def _tweet_time(value: Any) -> datetime | None:
    # "Wed Oct 10 20:19:24 +0000 2018": reordered into RFC 2822 for the parser.
    parts = _str(value).split()
    if len(parts) != 6:
        return None
    try:
        parsed = parsedate_to_datetime(f"{parts[0]}, {parts[2]} {parts[1]} {parts[5]} {parts[3]} {parts[4]}")
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)  # "-0000": UTC, said X's way


def _ms_time(value: Any) -> datetime | None:
    text = _str(value, 20)
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class XSocialProvider:
    name = "x_social"
    label = "X (public mentions and DMs)"

    # -- the CRC check (GET) ----------------------------------------------------

    def handshake(self, *, channel, params: Mapping[str, str]) -> tuple[int, dict]:
        """Answer X's challenge-response check: (HTTP status, JSON body)."""
        token = params.get("crc_token") or ""
        if not token:
            return 400, {"error": "bad_request", "detail": "crc_token is required"}
        return 200, {"response_token": sign(channel.secret, token.encode())}

    # -- in -------------------------------------------------------------------

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        if not signatures_match(sign(channel.secret, body), given.strip()):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadInvalid(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
        if not isinstance(payload, dict):
            raise PayloadInvalid("body must be a JSON object (an account activity event)")
        if not _id(payload.get("for_user_id")):
            raise PayloadInvalid("field 'for_user_id' must be the subscribed account's id (digits)")
        for key in _EVENT_LISTS:
            if key in payload and not (
                isinstance(payload[key], list) and all(isinstance(item, dict) for item in payload[key])
            ):
                raise PayloadInvalid(f"field '{key}' must be a list of objects")
        return payload

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        payload = self.parse(body)
        ids = [f"tweet:{_id(t.get('id_str'))}" for t in payload.get("tweet_create_events", []) if _id(t.get("id_str"))]
        ids += [f"dm:{_id(d.get('id'))}" for d in payload.get("direct_message_events", []) if _id(d.get("id"))]
        if not ids:
            # Likes, follows, typing…: no ids of their own; the same body twice is one delivery.
            return f"body:{hashlib.sha256(body).hexdigest()}"
        key = ",".join(sorted(ids))
        return key if len(key) <= 200 else f"ids:{hashlib.sha256(key.encode()).hexdigest()}"

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        payload = self.parse(bytes(event.body))
        brand = _id(payload["for_user_id"])
        configured = _str((channel.config or {}).get("user_id"), 40)
        if configured and configured != brand:
            return [self._ignore(channel, "", f"event for account {brand}, not this channel's {configured}")]
        out = [self._tweet(channel, brand, t) for t in payload.get("tweet_create_events", [])]
        users = _obj(payload.get("users"))
        out += [self._dm(channel, brand, d, users) for d in payload.get("direct_message_events", [])]
        if not out:
            kinds = ", ".join(sorted(k for k in payload if k.endswith("_events"))) or "no events"
            out.append(self._ignore(channel, "", f"event type not handled: {kinds}"))
        return out

    def _ignore(self, channel, external_id: str, reason: str) -> NormalizedMessage:
        return NormalizedMessage(
            kind=MessageKind.IGNORE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            extra={"reason": reason},
        )

    def _tweet(self, channel, brand: str, tweet: dict) -> NormalizedMessage:
        from cases.models import Message

        tweet_id = _id(tweet.get("id_str"))
        user = _obj(tweet.get("user"))
        user_id = _id(user.get("id_str"))
        if not tweet_id or not user_id:
            raise PayloadInvalid("a tweet_create_event needs 'id_str' and 'user.id_str'")
        external_id = f"tweet:{tweet_id}"
        if user_id == brand:
            return self._ignore(channel, external_id, "the brand's own post")
        if "retweeted_status" in tweet:
            return self._ignore(channel, external_id, "a repost")
        listed = _obj(tweet.get("entities")).get("user_mentions")
        mentions = {_id(m.get("id_str")) for m in listed if isinstance(m, dict)} if isinstance(listed, list) else set()
        replied_to_user = _id(tweet.get("in_reply_to_user_id_str"))
        if brand not in mentions and replied_to_user != brand:
            return self._ignore(channel, external_id, "a post that does not mention the brand")
        extended = _obj(tweet.get("extended_tweet"))
        text = _str(extended.get("full_text"), TEXT_LIMIT) or _str(tweet.get("text"), TEXT_LIMIT)
        media = _obj(extended.get("extended_entities") or tweet.get("extended_entities")).get("media")
        media = media if isinstance(media, list) else []
        replied_to = _id(tweet.get("in_reply_to_status_id_str"))
        thread = ""
        if replied_to:
            thread = (
                Message.objects.filter(channel=channel, provider_message_id=f"tweet:{replied_to}")
                .values_list("case__thread_key", flat=True)
                .first()
            ) or ""
        posted_at = _tweet_time(tweet.get("created_at"))
        return NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            thread_key=thread or external_id,
            sender=Sender(identity_kind="twitter", address=user_id, display_name=_str(user.get("name"), 200)),
            text=text,
            language=_str(tweet.get("lang"), 16).lower() if _str(tweet.get("lang"), 16) not in ("und", "") else "",
            attachments=tuple(self._media(m) for m in media[:10] if isinstance(m, dict)),
            sent_at=posted_at,
            extra={"public": True, "screen_name": _str(user.get("screen_name"), 50)},
        )

    def _media(self, media: dict) -> Attachment:
        kind = _str(media.get("type"), 20) or "photo"
        return Attachment(
            name=f"{kind}-{_id(media.get('id_str')) or 'media'}",
            content_type="image/jpeg" if kind == "photo" else "video/mp4",
            url=_str(media.get("media_url_https"), 2000),
        )

    def _dm(self, channel, brand: str, event: dict, users: dict) -> NormalizedMessage:
        event_id = _id(event.get("id"))
        if not event_id:
            raise PayloadInvalid("a direct_message_event needs an 'id' (digits)")
        external_id = f"dm:{event_id}"
        if event.get("type") != "message_create":
            return self._ignore(channel, external_id, f"direct message event {event.get('type')!r}")
        create = _obj(event.get("message_create"))
        sender_id = _id(create.get("sender_id"))
        if not sender_id:
            raise PayloadInvalid("a message_create needs 'sender_id' (digits)")
        if sender_id == brand:
            return self._ignore(channel, external_id, "the brand's own direct message")
        data = _obj(create.get("message_data"))
        media = _obj(_obj(data.get("attachment")).get("media"))
        text = _str(data.get("text"), TEXT_LIMIT)
        attachments = (self._media(media),) if media else ()
        if not text and not attachments:
            return self._ignore(channel, external_id, "an empty direct message")
        user = _obj(users.get(sender_id))
        return NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            thread_key=f"dm:{sender_id}",
            sender=Sender(identity_kind="twitter", address=sender_id, display_name=_str(user.get("name"), 200)),
            text=text,
            attachments=attachments,
            sent_at=_ms_time(event.get("created_timestamp")),
            extra={"public": False},
        )

    # -- out ------------------------------------------------------------------

    def send(self, *, channel, message) -> SendResult:
        from cases.models import Message

        config = channel.config or {}
        token = config.get("access_token")
        if not isinstance(token, str) or not token:
            return SendResult(status="failed", error="the channel has no access_token in its config")
        base = str(config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            return SendResult(status="failed", error=f"api_base must be http or https: {base!r}")
        inbound = (
            Message.objects.filter(case_id=message.case_id, direction=Message.Direction.INBOUND)
            .select_related("sender_identity")
            .order_by("-created_at", "-pk")
        )
        latest_post = inbound.filter(provider_message_id__startswith="tweet:").first()
        thread = message.case.thread_key
        if thread.startswith("dm:") or config.get("reply_as") == "dm" or latest_post is None:
            recipient = thread[3:] if thread.startswith("dm:") else ""
            if not recipient:
                last = inbound.first()
                recipient = last.sender_identity.address if last and last.sender_identity_id else ""
            if not recipient:
                return SendResult(status="failed", error="no X user to send a direct message to")
            url = f"{base}/2/dm_conversations/with/{urllib.parse.quote(recipient)}/messages"
            body: dict[str, Any] = {"text": message.text[:TEXT_LIMIT]}
            prefix = "dm:"
        else:
            url = f"{base}/2/tweets"
            reply_to = latest_post.provider_message_id.removeprefix("tweet:")
            body = {"text": message.text[:TEXT_LIMIT], "reply": {"in_reply_to_tweet_id": reply_to}}
            prefix = "tweet:"
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (scheme checked above)
                status, raw = response.status, response.read(1_000_000)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(1_000_000)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(status="retry", error=f"X unreachable: {exc}")
        return self._result(prefix, status, raw)

    def _result(self, prefix: str, status: int, raw: bytes) -> SendResult:
        try:
            answer = _obj(json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            answer = {}
        data = _obj(answer.get("data"))
        if 200 <= status < 300 and data:
            sent_id = _id(data.get("id")) or _id(data.get("dm_event_id"))
            return SendResult(status="sent", provider_message_id=f"{prefix}{sent_id}" if sent_id else "")
        errors = answer.get("errors")
        first_error = _obj(errors[0]) if isinstance(errors, list) and errors else {}
        detail = (
            _str(answer.get("detail"), 1000)
            or _str(first_error.get("message"), 1000)
            or _str(first_error.get("detail"), 1000)
            or _str(answer.get("title"), 200)
            or f"HTTP {status}"
        )
        if status == 429 or status >= 500 or status < 400:
            return SendResult(status="retry", error=f"X {status}: {detail}")
        return SendResult(status="failed", error=f"X {status}: {detail}")
