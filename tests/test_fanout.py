"""Channel-layer sends from synchronous code in a worker process (Celery
mode): handed to the process's own sending thread, in order, without the
caller waiting for the layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config import fanout


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


@pytest.mark.postgres
@pytest.mark.parametrize("capacity", [100, 3])
def test_pipelined_sends_through_redis_deliver_what_one_group_send_at_a_time_would(capacity):
    """On the PostgreSQL leg (Redis present): a batch of group sends through
    channels-redis, pipelined, delivers to every member in order, and drops
    over capacity exactly as channels-redis's own group_send does."""
    import asyncio
    import os

    from channels_redis.core import RedisChannelLayer

    def layer_for(run: str):
        return RedisChannelLayer(
            hosts=[os.environ["REDIS_URL"]], prefix=f"test-fanout-{os.getpid()}-{run}-{capacity}", capacity=capacity
        )

    async def scenario(layer, pipelined: bool):
        a, b, c = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("agent.1", a)
        await layer.group_add("agent.1", b)
        await layer.group_add("agent.2", c)
        sends = [("agent.1", {"type": "x", "n": n}) for n in range(2)]
        sends += [("agent.3", {"type": "nobody", "n": 99})]  # an empty group: nothing stored, no error
        sends += [("agent.2", {"type": "x", "n": 10 + n}) for n in range(5)]
        if pipelined:
            await fanout.send_many(layer, sends)
        else:
            for group, message in sends:
                await layer.group_send(group, message)
        got = []
        for name in (a, b, c):
            mine = []
            while True:
                try:
                    mine.append((await asyncio.wait_for(layer.receive(name), 0.3))["n"])
                except TimeoutError:
                    break
            got.append(mine)
        await layer.flush()
        return got

    pipelined_layer = layer_for("pipelined")
    assert fanout._pipelinable(pipelined_layer)
    pipelined = async_to_sync(scenario)(pipelined_layer, True)
    one_by_one = async_to_sync(scenario)(layer_for("one-by-one"), False)
    assert pipelined == one_by_one
    if capacity == 100:
        assert pipelined == [[0, 1], [0, 1], [10, 11, 12, 13, 14]]
    else:
        assert sum(map(len, pipelined)) < 2 + 2 + 5  # some dropped over capacity, the same ones
