"""capture_events (tests/events.py): what an action published on commit, in
order, and a readable failure when it is not what was expected."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction

from config import events
from tests.events import capture_events, like


@dataclass(frozen=True, slots=True)
class Rang(events.Event):
    n: int
    by: str = "bell"


@dataclass(frozen=True, slots=True)
class Knocked(events.Event):
    n: int


def _publish(*batch: events.Event) -> None:
    with transaction.atomic():
        for event in batch:
            events.publish_on_commit(event)


@pytest.mark.django_db(transaction=True)
def test_it_captures_what_committed_in_order_and_not_what_rolled_back():
    with capture_events() as published:
        _publish(Rang(1), Knocked(2))
        with transaction.atomic():
            events.publish_on_commit(Rang(3))
            try:
                with transaction.atomic():
                    events.publish_many_on_commit([Rang(4), Rang(5)])
                    raise RuntimeError("roll back the savepoint")
            except RuntimeError:
                pass
    assert published == [Rang(1), Knocked(2), Rang(3)]


@pytest.mark.django_db
def test_under_the_test_transaction_it_captures_the_on_commit_work_run(django_capture_on_commit_callbacks):
    committing = django_capture_on_commit_callbacks(execute=True)
    with capture_events(expected=[Rang, Knocked]) as published, committing:
        _publish(Rang(1), Knocked(2))
    assert published == [Rang(1), Knocked(2)]


@pytest.mark.django_db(transaction=True)
def test_listeners_still_hear_what_it_captures():
    heard: list[events.Event] = []
    events.subscribe(Rang, heard.append)
    try:
        with capture_events(expected=[Rang(1)]):
            _publish(Rang(1))
    finally:
        events.unsubscribe(Rang, heard.append)
    assert heard == [Rang(1)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "expected",
    [
        [Rang, Knocked, Rang],
        [Rang(1), Knocked(2), Rang(3, by="hand")],
        [like(Rang, n=1), like(Knocked), like(Rang, n=3, by="hand")],
        [Rang, Knocked(2), like(Rang, by="hand")],
    ],
)
def test_expected_events_pass_by_type_by_value_or_by_some_fields(expected):
    with capture_events(expected=expected):
        _publish(Rang(1), Knocked(2), Rang(3, by="hand"))


@pytest.mark.django_db(transaction=True)
def test_a_missing_event_fails_with_both_lists():
    with pytest.raises(AssertionError) as failed, capture_events(expected=[Rang, Knocked, Rang]):
        _publish(Rang(1), Knocked(2))
    message = str(failed.value)
    assert "1 expected event(s) missing, from #3" in message
    assert "> 3. Rang(…)" in message
    assert "1. Rang(n=1, by='bell')" in message and "2. Knocked(n=2)" in message


@pytest.mark.django_db(transaction=True)
def test_an_extra_event_fails():
    with pytest.raises(AssertionError) as failed, capture_events(expected=[Rang]):
        _publish(Rang(1), Rang(2))
    assert "1 more event(s) than expected, from #2" in str(failed.value)
    assert "> 2. Rang(n=2, by='bell')" in str(failed.value)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "expected",
    [[Knocked, Rang], [Rang(1), Knocked(3)], [like(Rang, n=1), like(Knocked, n=3)], [Rang, like(Knocked, m=2)]],
)
def test_a_different_or_misplaced_event_fails(expected):
    differs = pytest.raises(AssertionError, match="the events published are not those expected: event #")
    with differs, capture_events(expected=expected):
        _publish(Rang(1), Knocked(2))


@pytest.mark.django_db(transaction=True)
def test_nothing_published_when_something_was_expected_fails():
    with pytest.raises(AssertionError, match="1 expected event"), capture_events(expected=[Rang]):
        pass


@pytest.mark.django_db(transaction=True)
def test_named_types_capture_and_compare_only_those():
    with capture_events(Knocked, expected=[Knocked(2)]) as published:
        _publish(Rang(1), Knocked(2), Rang(3))
    assert published == [Knocked(2)]


@pytest.mark.django_db
def test_work_left_uncommitted_is_pointed_out():
    pointed_out = pytest.raises(AssertionError, match=r"django_capture_on_commit_callbacks\(execute=True\)")
    with pointed_out, capture_events(expected=[Rang]):
        _publish(Rang(1))  # the test transaction never commits


@pytest.mark.django_db(transaction=True)
def test_delivery_is_restored_after_the_block_even_when_it_fails():
    real = events.deliver
    with pytest.raises(ValueError), capture_events():
        raise ValueError("the action failed")
    assert events.deliver is real
    with capture_events() as published:
        pass
    _publish(Rang(1))  # after the block: not captured
    assert published == []
