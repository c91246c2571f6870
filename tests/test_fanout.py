"""Channel-layer sends from synchronous code in a worker process (Celery
mode): handed to the process's own sending thread, in order, without the
caller waiting for the layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from dashboards import fanout


@pytest.fixture
def celery_mode(settings):
    settings.BACKGROUND_MODE = "celery"


def test_sends_from_a_worker_arrive_in_the_order_given(celery_mode):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("agent.7", channel)

    for n in range(5):
        fanout.group_send_many(
            [("agent.7", {"type": "offer.created", "n": 2 * n}), ("agent.7", {"type": "x", "n": 2 * n + 1})]
        )
    fanout._sender.flush()

    received = [async_to_sync(layer.receive)(channel)["n"] for _ in range(10)]
    assert received == list(range(10))
    assert fanout._sender._loop is not None and fanout._sender._loop.is_running()


def test_a_failing_send_does_not_stop_the_ones_after_it(celery_mode):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("agent.8", channel)

    fanout.group_send_many([("not a valid group name!", {"type": "x"})])  # refused by the layer
    fanout.group_send("agent.8", {"type": "after"})
    fanout._sender.flush()

    assert async_to_sync(layer.receive)(channel)["type"] == "after"
