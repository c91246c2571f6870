"""Events leave services only on commit, one by one or as a batch."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction

from config import events


@dataclass(frozen=True, slots=True)
class Pinged(events.Event):
    n: int


@pytest.fixture
def heard():
    singles: list[int] = []
    batches: list[list[int]] = []

    def single(event):
        singles.append(event.n)

    def batch(evs):
        batches.append([e.n for e in evs])

    events.subscribe(Pinged, single)
    events.subscribe_batch(Pinged, batch)
    yield singles, batches
    events.unsubscribe(Pinged, single)
    events._batch_listeners[Pinged].remove(batch)


@pytest.mark.django_db(transaction=True)
def test_a_batch_reaches_batch_listeners_as_one_list_and_others_one_by_one(heard):
    singles, batches = heard
    with transaction.atomic():
        events.publish_many_on_commit([Pinged(1), Pinged(2), Pinged(3)])
        events.publish_on_commit(Pinged(4))
        assert singles == [] and batches == []  # nothing before the commit
    assert singles == [1, 2, 3, 4]
    assert batches == [[1, 2, 3], [4]]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_batch_is_never_heard(heard):
    singles, batches = heard
    with transaction.atomic():
        events.publish_on_commit(Pinged(1))
        try:
            with transaction.atomic():
                events.publish_many_on_commit([Pinged(2), Pinged(3)])
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
    assert singles == [1] and batches == [[1]]


@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_listener_does_not_stop_the_others(heard):
    singles, batches = heard

    def broken(evs):
        raise ValueError("boom")

    events.subscribe_batch(Pinged, broken)
    try:
        with transaction.atomic():
            events.publish_many_on_commit([Pinged(7)])
    finally:
        events._batch_listeners[Pinged].remove(broken)
    assert singles == [7] and batches == [[7]]
