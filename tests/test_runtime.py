"""Long-lived processes keep the garbage collector off their start-up
objects: a full collection over them paused a router for about 50 ms."""

from __future__ import annotations

import gc

import pytest

from config import runtime

pytestmark = pytest.mark.pure


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_start_up_objects_are_frozen_and_garbage_is_not(unfrozen):
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage  # only a collection frees a cycle
    del garbage
    runtime.freeze_startup_objects()
    assert gc.get_freeze_count() > 10_000  # the modules and classes loaded so far
    gc.unfreeze()  # what was frozen is visible again: the cycle was collected, not frozen
    assert not any(type(o).__name__ == "Cycle" for o in gc.get_objects())


def test_celery_worker_children_freeze_once_started():
    from celery.signals import worker_process_init

    from config import celery

    assert any(receiver() is celery._freeze_startup_objects for _, receiver in worker_process_init.receivers)


async def test_the_web_process_freezes_at_start_up(monkeypatch, settings):
    from config import asgi

    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "EMBEDDED_TICKER": False, "FAKE_PROVIDERS_PORT": 0}
    calls = []
    monkeypatch.setattr(runtime, "freeze_startup_objects", lambda: calls.append("frozen"))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append((message["type"], list(calls)))

    await asgi._lifespan(receive, send)
    assert sent == [("lifespan.startup.complete", ["frozen"]), ("lifespan.shutdown.complete", ["frozen"])]
