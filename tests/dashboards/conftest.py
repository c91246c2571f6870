from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOST = (b"host", b"127.0.0.1:8000")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user, *, origin=ORIGIN, path="/ws/supervisor/") -> tuple[WebsocketCommunicator, bool, int]:
    headers = [origin, HOST]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def receive(communicator, type_: str, timeout: float = 5) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == type_:
            return message


@pytest.fixture(autouse=True)
def fresh_sequences():
    from dashboards.streams import sequences, watchers

    sequences.reset()
    watchers.reset()
    yield
    sequences.reset()
    watchers.reset()
