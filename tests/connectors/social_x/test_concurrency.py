"""On PostgreSQL, several X deliveries at once (each request in its own thread
and connection) that carry the same posts in different combinations, as X's
redeliveries do: each post is stored once, on one case."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client

from cases.models import Case, Message
from connectors.models import Channel
from connectors.providers.x_social import sign
from tests.connectors.social_x.test_x_social import mentions, tweet

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_overlapping_deliveries_at_once_store_each_post_once():
    assert connection.vendor == "postgresql"
    channel = Channel.objects.create(
        key="x-brand", name="@TwitterDev", kind="social", provider="x_social", config={"user_id": "2244994945"}
    )
    posts = [tweet(f"18500000000000001{i:02d}") for i in range(4)]
    # Every delivery carries the first post, and one or two others.
    bodies = [mentions(posts[0], posts[1 + i % 3], posts[1 + (i + 1) % 3]) for i in range(6)]
    barrier = threading.Barrier(len(bodies))
    statuses: Counter = Counter()
    errors: list[Exception] = []

    def send(body):
        try:
            raw = json.dumps(body).encode()
            client = Client()
            barrier.wait(timeout=10)
            response = client.post(
                f"/hooks/{channel.key}/",
                data=raw,
                content_type="application/json",
                HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=sign(channel.secret, raw),
            )
            statuses[response.status_code] += 1
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert set(statuses) <= {200, 202}
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == sorted(
        f"tweet:{p['id_str']}" for p in posts
    )
    # One customer wrote all four, each a post of its own: four cases.
    assert Case.objects.count() == 4
