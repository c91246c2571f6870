"""``/ws/chat/<widget-key>/``: one customer's web chat.

Thin, like every consumer: the first frame is ``hello`` (with the
conversation token the widget kept, and the website's signed identity when
it has one); then ``details`` (the pre-chat form), ``message`` and
``offline`` frames are stored as inbound events, ``position`` asks where the
case stands. The server sends ``welcome`` (the conversation so far),
``ack``/``error`` for each frame, and ``chat.message``, ``chat.status``,
``chat.typing`` as agents work. After a resolution ``chat.survey`` asks for
a rating, answered with a ``survey`` frame (``connectors/webchat/surveys.py``);
``survey.answered`` follows an answer by any path. No frame,
however broken, closes the socket with an error other than a clear ``error``
frame.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import replace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from connectors.models import Channel
from connectors.providers.webchat import chat_group
from connectors.webchat import services
from connectors.webchat.surveys import answer_or_error
from connectors.webchat.visitors import (
    Visitor,
    VisitorRefused,
    check_identity_signature,
    new_visitor,
    token_for,
    visitor_from_token,
)

log = logging.getLogger(__name__)

UNKNOWN_WIDGET = 4404
ORIGIN_REFUSED = 4403
FRAMES_PER_WINDOW = 30
WINDOW_SECONDS = 10


def _widget(key: str) -> Channel | None:
    return Channel.objects.filter(key=key, is_active=True, provider="webchat").first()


def _origin(scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return ""


class ChatConsumer(AsyncWebsocketConsumer):
    channel_obj: Channel | None = None
    visitor: Visitor | None = None
    group: str | None = None

    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["widget_key"]
        channel = await database_sync_to_async(_widget)(key)
        if channel is None:
            await self.close(code=UNKNOWN_WIDGET)
            return
        allowed = (channel.config or {}).get("allowed_origins") or []
        if allowed and _origin(self.scope) not in allowed:
            await self.close(code=ORIGIN_REFUSED)
            return
        self.channel_obj = channel
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload))

    async def _error(self, detail: str, frame_id=None) -> None:
        await self._send({"type": "error", "id": frame_id if isinstance(frame_id, str) else None, "detail": detail})

    def _over_rate(self) -> bool:
        """At most FRAMES_PER_WINDOW frames per WINDOW_SECONDS per socket: a
        flood gets an error frame, not the database."""
        now = time.monotonic()
        recent = self.__dict__.setdefault("_recent", deque())
        while recent and now - recent[0] > WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= FRAMES_PER_WINDOW:
            return True
        recent.append(now)
        return False

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self._over_rate():
            await self._error(f"too many frames: at most {FRAMES_PER_WINDOW} in {WINDOW_SECONDS} s")
            return
        if text_data is None:
            await self._error("frames are JSON text")
            return
        if len(text_data) > services.MAX_FRAME_CHARS:
            await self._error(f"a frame is limited to {services.MAX_FRAME_CHARS} characters")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            if self.visitor is not None:
                # Kept, failed, with its error: an admin can see what arrived.
                await self._store(text_data, frame_id=None)
            else:
                await self._error("a frame is a JSON object with a 'type'")
            return
        kind = frame["type"]
        if kind == "hello":
            await self._hello(frame)
        elif self.visitor is None:
            await self._error("say hello first")
        elif kind == "details":
            await self._details(frame)
        elif kind in ("message", "offline"):
            await self._store(text_data, frame_id=frame.get("id"))
        elif kind == "position":
            await self._position()
        elif kind == "survey":
            await self._survey(frame)
        elif kind == "typing":
            await database_sync_to_async(services.customer_typing)(self.channel_obj, self.visitor)
        else:
            await self._error(f"unknown frame type {kind[:40]!r}")

    async def _hello(self, frame: dict) -> None:
        channel = self.channel_obj
        try:
            visitor = None
            token = frame.get("token")
            if token:
                try:
                    visitor = visitor_from_token(token, channel_key=channel.key)
                except VisitorRefused:
                    visitor = None  # a stale token starts a new conversation
            identity = frame.get("identity")
            if identity is not None:
                if not isinstance(identity, dict):
                    raise VisitorRefused("'identity' must be an object with 'user_id' and 'signature'")
                user_id = identity.get("user_id")
                check_identity_signature(channel.secret, user_id, identity.get("signature"))
                name = identity.get("name") if isinstance(identity.get("name"), str) else ""
                email = self._email(identity.get("email"))
                base = visitor if visitor is not None and visitor.user_id == user_id else new_visitor(channel.key)
                visitor = replace(
                    base, user_id=user_id.strip(), name=name[:200] or base.name, email=email or base.email
                )
        except VisitorRefused as exc:
            await self._error(str(exc))
            return
        await self._start(visitor or new_visitor(channel.key))

    def _email(self, value) -> str:
        if not isinstance(value, str) or not value.strip():
            return ""
        try:
            return normalize_identity(IdentityKind.EMAIL, value)
        except InvalidIdentity:
            return ""

    async def _start(self, visitor: Visitor) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.visitor = visitor
        self.group = chat_group(self.channel_obj.pk, visitor.thread_key)
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await database_sync_to_async(services.conversation_snapshot)(
            self.channel_obj, visitor, timezone.now()
        )
        await self._send({"type": "welcome", "token": token_for(visitor), **snapshot})

    async def _details(self, frame: dict) -> None:
        """The pre-chat form: a name, an email if the customer wants."""
        name = frame.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            await self._error("'name' is required (at most 200 characters)")
            return
        email = frame.get("email") or ""
        if email and not self._email(email):
            await self._error("'email' is not an email address")
            return
        await self._start(replace(self.visitor, name=name.strip(), email=self._email(email)))

    async def _store(self, raw: str, *, frame_id) -> None:
        client = self.scope.get("client") or [None]
        result = await database_sync_to_async(services.receive_frame)(
            channel=self.channel_obj, visitor=self.visitor, raw=raw, remote_addr=client[0], now=timezone.now()
        )
        if result.status >= 400:
            await self._error(result.body.get("detail", "not accepted"), frame_id)
            return
        await self._send({"type": "ack", "id": frame_id if isinstance(frame_id, str) else None, **result.body})

    async def _position(self) -> None:
        case = await database_sync_to_async(services.conversation_case)(self.channel_obj, self.visitor)
        status = await database_sync_to_async(services.status_payload)(case, timezone.now())
        await self._send({"type": "chat.status", "conversation": status})

    async def _survey(self, frame: dict) -> None:
        answer = await database_sync_to_async(answer_or_error)(
            channel=self.channel_obj, visitor=self.visitor, frame=frame, now=timezone.now()
        )
        await self._send(answer)

    # Group messages → this socket.
    async def chat_message(self, event: dict) -> None:
        await self._send(event)

    async def chat_status(self, event: dict) -> None:
        await self._send(event)

    async def chat_typing(self, event: dict) -> None:
        await self._send(event)

    async def chat_survey(self, event: dict) -> None:
        await self._send(event)

    async def survey_answered(self, event: dict) -> None:
        """Answered by any path (a typed "5", the link): the card closes."""
        await self._send(event)
