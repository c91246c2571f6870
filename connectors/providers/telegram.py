"""Telegram: Bot API updates in by webhook, replies out with ``sendMessage``.

Configure the bot's webhook (``setWebhook``) with ``url`` =
``https://<host>/hooks/<channel-key>/`` and ``secret_token`` = the channel's
secret: Telegram then sends the secret back in the
``X-Telegram-Bot-Api-Secret-Token`` header of every update, and a request
without it (or with another one) is refused with 403 and stored nowhere.

Channel config: ``bot_token`` (from @BotFather, used to reply) and optionally
``api_base`` (default ``https://api.telegram.org``; tests point it at a local
server).

What an update becomes:

- ``message``: a customer message. The chat id is the thread (one case per
  chat), the sender's user id a ``telegram`` identity, first and last name the
  customer's name when unknown. Text or the caption; a photo becomes one
  attachment (its largest size), documents, audio, voice, video, animations
  and stickers one each, the attachment's ``url`` being ``telegram-file:<file_id>``
  (a descriptor: the file is fetched with ``getFile`` and the bot token). A
  message with nothing a person wrote (a member joined, a pinned message) is
  ignored. Messages from bots are ignored.
- ``edited_message``: never opens a case. When the original message is on an
  open case, the edit is recorded there as a new message marked
  ``(edited)``, keeping what was first written; when the original's case is
  closed the edit is stored (the raw event) and ignored; when the original was
  never seen, the edited text is taken as the message.
- ``callback_query`` (an inline keyboard button pressed): its ``data`` is a
  message from the user on the chat the button was in.
- ``channel_post``/``edited_channel_post`` (the bot's own broadcast channels)
  and every other update type (polls, inline queries, member changes…): stored
  and ignored, visible to admins.

Dedupe: the ``update_id``, unique per bot, so per channel.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from connectors.providers.base import PayloadInvalid, SendResult, SignatureInvalid, signatures_match
from connectors.providers.base import header as _header
from connectors.providers.base import obj as _obj
from connectors.providers.base import text as _str

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
DEFAULT_API_BASE = "https://api.telegram.org"
TEXT_LIMIT = 4096  # Telegram's own limit on a message's text

# Message fields that carry one file each: (field, content type when none is given, name)
_FILES = (
    ("document", "application/octet-stream", "document"),
    ("audio", "audio/mpeg", "audio"),
    ("voice", "audio/ogg", "voice.ogg"),
    ("video", "video/mp4", "video.mp4"),
    ("animation", "video/mp4", "animation.mp4"),
    ("video_note", "video/mp4", "video-note.mp4"),
    ("sticker", "image/webp", "sticker.webp"),
)
# Content a person sent that has no file: shown to the agent as a short note.
_NOTES = ("location", "venue", "contact", "poll", "dice")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ident(value: Any) -> str:
    """A Telegram id (an integer, up to 52 bits) as text, or ''."""
    number = _int(value)
    return str(number) if number is not None else ""


def _name(user: dict) -> str:
    name = " ".join(part for part in (_str(user.get("first_name")), _str(user.get("last_name"))) if part)
    return name[:200] or _str(user.get("username"), 200)


def _timestamp(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None or not 0 < seconds < 32503680000:  # before the year 3000
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


class TelegramProvider:
    name = "telegram"
    label = "Telegram Bot API"

    # -- in -------------------------------------------------------------------

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SECRET_HEADER)
        if not given:
            raise SignatureInvalid(f"missing {SECRET_HEADER} header")
        if not signatures_match(channel.secret, given.strip()):
            raise SignatureInvalid(f"{SECRET_HEADER} is not this channel's secret")

    def parse(self, body: bytes) -> dict[str, Any]:
        try:
            update = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadInvalid(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
        if not isinstance(update, dict):
            raise PayloadInvalid("body must be a JSON object (a Telegram Update)")
        if _int(update.get("update_id")) is None:
            raise PayloadInvalid("field 'update_id' must be an integer")
        return update

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        return f"update:{self.parse(body)['update_id']}"

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        update = self.parse(bytes(event.body))
        if isinstance(update.get("message"), dict):
            return [self._message(channel, update["message"])]
        if isinstance(update.get("edited_message"), dict):
            return [self._edit(channel, update["edited_message"])]
        if isinstance(update.get("callback_query"), dict):
            return [self._callback(channel, update["callback_query"])]
        kinds = ", ".join(sorted(k for k in update if k != "update_id")) or "nothing"
        return [self._ignore(channel, f"update:{update['update_id']}", f"update type not handled: {kinds}")]

    def _ignore(self, channel, external_id: str, reason: str) -> NormalizedMessage:
        return NormalizedMessage(
            kind=MessageKind.IGNORE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            extra={"reason": reason},
        )

    def _message(self, channel, message: dict, *, external_id: str = "", prefix: str = "") -> NormalizedMessage:
        chat_id = _ident(_obj(message.get("chat")).get("id"))
        message_id = _ident(message.get("message_id"))
        user = _obj(message.get("from"))
        user_id = _ident(user.get("id"))
        if not chat_id or not message_id:
            raise PayloadInvalid("a message needs 'chat.id' and 'message_id' as integers")
        external_id = external_id or f"{chat_id}:{message_id}"
        if not user_id:
            return self._ignore(channel, external_id, "message without a sender (an anonymous admin or a channel)")
        if user.get("is_bot") is True:
            return self._ignore(channel, external_id, "message from a bot")
        text = _str(message.get("text"), TEXT_LIMIT) or _str(message.get("caption"), TEXT_LIMIT)
        attachments = self._attachments(message)
        notes = [f"[{kind}]" for kind in _NOTES if kind in message]
        if notes and not text:
            text = " ".join(notes)
        if not text and not attachments:
            return self._ignore(channel, external_id, "service message with nothing a person wrote")
        return NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            thread_key=chat_id,
            sender=Sender(identity_kind="telegram", address=user_id, display_name=_name(user)),
            text=prefix + text,
            language=_str(user.get("language_code"), 16).lower(),
            attachments=attachments,
            sent_at=_timestamp(message.get("edit_date") if prefix else message.get("date")),
        )

    def _attachments(self, message: dict) -> tuple[Attachment, ...]:
        out = []
        sizes = message.get("photo")
        photos = [p for p in sizes if isinstance(p, dict) and _str(p.get("file_id"))] if isinstance(sizes, list) else []
        if photos:
            # Telegram sends every size it made; the largest is the original.
            largest = max(photos, key=lambda p: (_int(p.get("file_size")) or 0, _int(p.get("width")) or 0))
            out.append(self._file(largest, "image/jpeg", "photo.jpg"))
        for field, content_type, name in _FILES:
            item = message.get(field)
            if isinstance(item, dict) and _str(item.get("file_id")):
                out.append(self._file(item, content_type, name))
        return tuple(out)

    def _file(self, item: dict, content_type: str, name: str) -> Attachment:
        size = _int(item.get("file_size"))
        return Attachment(
            name=_str(item.get("file_name")) or name,
            content_type=_str(item.get("mime_type"), 100) or content_type,
            size=size if size is not None and size >= 0 else None,
            url=f"telegram-file:{_str(item.get('file_id'), 1000)}",
        )

    def _edit(self, channel, message: dict) -> NormalizedMessage:
        from cases.models import OPEN_STATUSES, Message

        chat_id = _ident(_obj(message.get("chat")).get("id"))
        message_id = _ident(message.get("message_id"))
        if not chat_id or not message_id:
            raise PayloadInvalid("an edited message needs 'chat.id' and 'message_id' as integers")
        original_id = f"{chat_id}:{message_id}"
        original = (
            Message.objects.filter(channel=channel, provider_message_id=original_id)
            .values_list("case__status", flat=True)
            .first()
        )
        if original is None:
            return self._message(channel, message)  # never saw the original: this is what they wrote
        edit_stamp = _ident(message.get("edit_date")) or "0"
        edit_id = f"{original_id}:edit:{edit_stamp}"
        if original not in OPEN_STATUSES:
            return self._ignore(channel, edit_id, "edit of a message whose case is closed")
        return self._message(channel, message, external_id=edit_id, prefix="(edited) ")

    def _callback(self, channel, query: dict) -> NormalizedMessage:
        query_id = _str(query.get("id"))
        user = _obj(query.get("from"))
        user_id = _ident(user.get("id"))
        if not query_id or not user_id:
            raise PayloadInvalid("a callback_query needs 'id' and 'from.id'")
        external_id = f"callback:{query_id}"
        data = _str(query.get("data"), TEXT_LIMIT)
        if not data:
            return self._ignore(channel, external_id, "callback query without data (a game button)")
        chat_id = _ident(_obj(_obj(query.get("message")).get("chat")).get("id")) or user_id
        return NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=self.name,
            external_id=external_id,
            thread_key=chat_id,
            sender=Sender(identity_kind="telegram", address=user_id, display_name=_name(user)),
            text=data,
            language=_str(user.get("language_code"), 16).lower(),
        )

    # -- out ------------------------------------------------------------------

    def send(self, *, channel, message) -> SendResult:
        config = channel.config or {}
        token = config.get("bot_token")
        if not isinstance(token, str) or not token:
            return SendResult(status="failed", error="the channel has no bot_token in its config")
        base = str(config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            return SendResult(status="failed", error=f"api_base must be http or https: {base!r}")
        chat_id = message.case.thread_key
        if not chat_id:
            return SendResult(status="failed", error="the case has no Telegram chat to reply in")
        digits = chat_id.removeprefix("-")
        numeric = digits.isascii() and digits.isdigit()
        payload: dict[str, Any] = {"chat_id": int(chat_id) if numeric else chat_id, "text": message.text[:TEXT_LIMIT]}
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            f"{base}/bot{urllib.parse.quote(token, safe=':')}/sendMessage",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (scheme checked above)
                status, raw = response.status, response.read(1_000_000)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(1_000_000)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(status="retry", error=f"Telegram unreachable: {exc}")
        return self._result(chat_id, status, raw)

    def _result(self, chat_id: str, status: int, raw: bytes) -> SendResult:
        try:
            answer = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            answer = None
        answer = _obj(answer)
        if 200 <= status < 300 and answer.get("ok") is True:
            message_id = _ident(_obj(answer.get("result")).get("message_id"))
            return SendResult(status="sent", provider_message_id=f"{chat_id}:{message_id}" if message_id else "")
        code = _int(answer.get("error_code")) or status
        description = _str(answer.get("description"), 1000) or f"HTTP {status}"
        if code == 429 or status == 429:
            retry_after = _int(_obj(answer.get("parameters")).get("retry_after"))
            wait = f" (retry after {retry_after} s)" if retry_after is not None else ""
            return SendResult(status="retry", error=f"Telegram {code}: {description}{wait}")
        if status >= 500 or code >= 500 or status < 400:
            return SendResult(status="retry", error=f"Telegram {code}: {description}")
        return SendResult(status="failed", error=f"Telegram {code}: {description}")
