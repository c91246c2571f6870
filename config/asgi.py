"""The ASGI application: HTTP through Django, websockets through Channels,
and (embedded mode) the in-process ticker that runs the periodic scans."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from config import background, runtime  # noqa: E402
from config.bodylimit import BodyLimit  # noqa: E402
from config.ticker import run_ticker  # noqa: E402
from connectors import fakes  # noqa: E402
from dashboards.websockets import public_websocket_urlpatterns, staff_websocket_urlpatterns  # noqa: E402

log = logging.getLogger(__name__)

router = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),  # 413 before Django spools an oversized body
        "websocket": URLRouter(
            [
                *public_websocket_urlpatterns,
                re_path(r"", AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(staff_websocket_urlpatterns)))),
            ]
        ),
    }
)


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await router(scope, receive, send)


async def _lifespan(receive, send) -> None:
    ticker: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            background.set_home_loop(asyncio.get_running_loop())
            if settings.SWITCHBOARD["EMBEDDED_TICKER"]:
                ticker = asyncio.create_task(run_ticker(settings.SWITCHBOARD["TICK_SECONDS"]))
            if settings.SWITCHBOARD["FAKE_PROVIDERS_PORT"]:
                fakes.serve(port=settings.SWITCHBOARD["FAKE_PROVIDERS_PORT"])
            runtime.freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            await asyncio.get_running_loop().run_in_executor(None, background.shutdown)
            background.set_home_loop(None)
            await send({"type": "lifespan.shutdown.complete"})
            return
