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


@pytest.fixture
def in_thread(settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "EVENTS": "thread"}
    events.dispatcher.flush()
    yield
    events.dispatcher.stop()  # its connection closed: the test database can be dropped


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_the_commit_returns_before_listeners_run_and_they_run_in_commit_order(heard, in_thread):
    import threading

    singles, batches = heard
    gate = threading.Event()
    threads: list[str] = []

    def slow(evs):
        threads.append(threading.current_thread().name)
        gate.wait(10)

    events.subscribe_batch(Pinged, slow)
    try:
        with transaction.atomic():
            events.publish_many_on_commit([Pinged(1), Pinged(2)])
        with transaction.atomic():
            events.publish_on_commit(Pinged(3))
        # Both transactions committed while the first batch's listener still waits.
        assert events.dispatcher.pending() == 2
        gate.set()
        assert events.dispatcher.flush(timeout=10)
    finally:
        events._batch_listeners[Pinged].remove(slow)
    assert singles == [1, 2, 3]
    assert batches == [[1, 2], [3]]
    assert threads == ["switchboard-events", "switchboard-events"]


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_a_failing_listener_leaves_the_thread_delivering(heard, in_thread):
    singles, _ = heard

    def broken(evs):
        raise ValueError("boom")

    events.subscribe_batch(Pinged, broken)
    try:
        for n in (1, 2):
            with transaction.atomic():
                events.publish_on_commit(Pinged(n))
        assert events.dispatcher.flush(timeout=10)
    finally:
        events._batch_listeners[Pinged].remove(broken)
    assert singles == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_listeners_read_what_was_committed(in_thread):
    """The event thread has its own connection and sees the commit."""
    from cases.models import Customer

    seen: list[bool] = []

    def look(evs):
        seen.extend(Customer.objects.filter(pk=e.n).exists() for e in evs)

    events.subscribe_batch(Pinged, look)
    try:
        with transaction.atomic():
            customer = Customer.objects.create(display_name="Event reader")
            events.publish_on_commit(Pinged(customer.pk))
        assert events.dispatcher.flush(timeout=10)
    finally:
        events._batch_listeners[Pinged].remove(look)
    assert seen == [True]


def test_a_full_queue_makes_the_publisher_wait_instead_of_growing(settings):
    import threading

    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "EVENTS": "thread"}
    gate = threading.Event()
    small = events.Dispatcher(size=1)
    original = events.dispatch_many
    events.dispatch_many = lambda batch: gate.wait(10)
    try:
        small.submit([Pinged(1)])  # taken by the thread, which waits
        small.submit([Pinged(2)])  # fills the queue
        third = threading.Thread(target=small.submit, args=([Pinged(3)],))
        third.start()
        third.join(0.3)
        assert third.is_alive()  # waits for room
        gate.set()
        third.join(10)
        assert not third.is_alive()
        assert small.flush(timeout=10)
        assert small.delivered == 3
        small.stop()
        assert not small._alive()
    finally:
        events.dispatch_many = original
        gate.set()


def test_events_as_dict_is_their_fields():
    assert Pinged(5).as_dict() == {"n": 5}


def test_a_listener_that_publishes_from_the_event_thread_never_waits_on_its_own_full_queue(settings):
    import threading

    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "EVENTS": "thread"}
    small = events.Dispatcher(size=1)
    heard: list[int] = []
    original = events.dispatch_many

    def listener(batch):
        heard.extend(e.n for e in batch)
        if batch[0].n == 1:
            small.submit([Pinged(2)])  # as a listener's own commit would, with the queue full

    gate = threading.Event()

    def dispatching(batch):
        if batch[0].n == 1:
            gate.wait(10)  # hold the first batch until the queue is full
        listener(batch)

    events.dispatch_many = dispatching
    try:
        small.submit([Pinged(1)])
        small.submit([Pinged(3)])  # the queue (size 1) is full now
        gate.set()
        assert small.flush(timeout=10)
        small.stop()
    finally:
        events.dispatch_many = original
        gate.set()
    assert heard == [1, 2, 3]


@dataclass(frozen=True, slots=True)
class Ponged(events.Event):
    n: int


@pytest.mark.django_db(transaction=True)
def test_a_listener_of_several_types_hears_them_as_one_list_in_the_order_published():
    heard: list[list[tuple[str, int]]] = []

    def both(evs):
        heard.append([(e.name, e.n) for e in evs])

    events.subscribe_batch((Pinged, Ponged), both)
    try:
        with transaction.atomic():
            events.publish_many_on_commit([Pinged(1), Ponged(2), Pinged(3)])
        with transaction.atomic():
            events.publish_on_commit(Ponged(4))
    finally:
        events._batch_listeners[(Pinged, Ponged)].remove(both)
    assert heard == [[("Pinged", 1), ("Ponged", 2), ("Pinged", 3)], [("Ponged", 4)]]
