"""Request bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` are refused with 413
before Django reads them: Django's ASGI handler spools a whole body (to disk
past a size) before any view can look at its length, and the ASGI server sets
no limit of its own. A declared ``Content-Length`` over the limit is refused
at once; a streamed body is cut as soon as it passes the limit."""

from __future__ import annotations

import json

from django.conf import settings


class BodyTooLarge(Exception):
    pass


async def _refuse(send, limit: int) -> None:
    body = json.dumps({"error": "too_large", "detail": f"request body over the limit of {limit} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(send, limit)
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, limit)
