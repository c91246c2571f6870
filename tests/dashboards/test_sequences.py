"""Sequence numbers of a delta stream: one counter per group, shared by every
process (Redis), so numbers never repeat or skip whoever publishes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from dashboards.streams import Sequences

pytestmark = pytest.mark.postgres


def test_many_publishers_at_once_share_one_gapless_counter_per_group():
    assert settings.REDIS_URL, "the PostgreSQL leg runs with Redis"
    publishers = [Sequences() for _ in range(4)]  # as four processes would: each its own client
    publishers[0].reset()

    def publish(sequences: Sequences) -> list[int]:
        return [sequences.next("sup.team.1") for _ in range(250)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = [n for batch in pool.map(publish, publishers) for n in batch]
    assert sorted(numbers) == list(range(1, 1001))
    assert Sequences().current(["sup.team.1", "sup.team.2"]) == {"sup.team.1": 1000, "sup.team.2": 0}
    publishers[0].reset()
