"""The planning pool a router keeps between batches (``ROUTER_STATE_MS``):
it may be stale, yet what is written is decided on states read under the
agents' locks — a stale pool costs at most a better choice for a moment,
never a broken promise, and never a case left waiting that a fresh read
would place."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from agents.models import Agent, AgentCapacity
from agents.services import set_status
from cases.models import CaseStatus
from cases.services import resolve_case
from routing.batch import route_case
from routing.loads import agent_loads
from routing.models import RoutingSettings
from routing.offers import accept_offer
from routing.pool import planning
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(settings):
    """Plan on a pool kept for a minute: only a reload, a retry or an
    in-process event makes the router look at the database again."""
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "ROUTER_STATE_MS": 60_000}
    planning.clear()
    yield
    planning.clear()


@pytest.fixture
def chan(db):
    return factories.channel("web", default_queue=factories.queue("General"))


def _held_units(agent: Agent) -> int:
    return sum(agent_loads([agent.pk]).get(agent.pk, {}).values())


def test_an_agent_filled_behind_the_pools_back_is_not_overfilled(kept, chan):
    now = timezone.now()
    ana = factories.agent("ana", capacity={"api": 1}, total=1)
    ben = factories.agent("ben", capacity={"api": 1}, total=1)
    warm = factories.queued_case(chan)
    first = route_case(case_id=warm.pk, now=now)  # the pool is read here
    assert first is not None
    other = ben if first.agent_id == ana.pk else ana
    # The other agent takes a case the router never hears of (another process).
    factories.held_case(chan, other)

    late = factories.queued_case(chan)
    assert route_case(case_id=late.pk, now=now) is None

    late.refresh_from_db()
    assert late.status == CaseStatus.QUEUED
    assert _held_units(ana) == 1 and _held_units(ben) == 1


def test_a_stale_choice_is_planned_again_on_fresh_states_in_the_same_batch(kept, chan):
    """The pool says Ana has the most room; she was filled elsewhere. The
    batch re-plans on what the database says and offers to Ben at once."""
    now = timezone.now()
    ana = factories.agent("ana", capacity={"api": 3}, total=3)
    ben = factories.agent("ben", capacity={"api": 1}, total=1)
    planning.pool(now, RoutingSettings.current())  # read while Ana is empty
    for _ in range(3):
        factories.held_case(chan, ana)

    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)

    assert offer is not None and offer.agent_id == ben.pk
    assert _held_units(ana) == 3


def test_room_freed_in_this_process_is_seen_at_once(kept, chan, django_capture_on_commit_callbacks):
    now = timezone.now()
    ana = factories.agent("ana", capacity={"api": 1}, total=1)
    held = factories.queued_case(chan)
    offer = route_case(case_id=held.pk, now=now)
    accept_offer(offer_id=offer.pk, agent=ana, now=now)
    early = factories.queued_case(chan)
    assert route_case(case_id=early.pk, now=now) is None  # Ana is full, and the pool knows
    early.delete()

    with django_capture_on_commit_callbacks(execute=True):  # its events, as after a commit
        resolve_case(case_id=held.pk, agent=ana, now=now)  # nothing waits now: only the pool can learn of it
    case = factories.queued_case(chan)
    offer = route_case(case_id=case.pk, now=now)

    assert offer is not None and offer.agent_id == ana.pk
    nxt = factories.queued_case(chan)
    assert route_case(case_id=nxt.pk, now=now) is None  # full again


def test_an_agent_coming_online_in_this_process_is_seen_at_once(kept, chan, django_capture_on_commit_callbacks):
    now = timezone.now()
    away = factories.status("Away", [])
    ana = factories.agent("ana", presence=away)
    factories.agent("ben", presence=away)
    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None  # nobody routable: pool read, empty

    with django_capture_on_commit_callbacks(execute=True):
        set_status(agent_id=ana.pk, status_id=factories.status().pk, now=now)

    case.refresh_from_db()
    assert case.status == CaseStatus.OFFERED
    other = factories.queued_case(chan)
    offer = route_case(case_id=other.pk, now=now)
    assert offer is not None and offer.agent_id == ana.pk


def test_a_capacity_lowered_elsewhere_is_kept_by_the_fresh_read(kept, chan):
    now = timezone.now()
    ana = factories.agent("ana", capacity={"api": 5}, total=5)
    warm = factories.queued_case(chan)
    route_case(case_id=warm.pk, now=now)
    # Another process lowers her capacity with an update this process's
    # signals never see.
    AgentCapacity.objects.filter(agent=ana, channel_kind="api").update(units=1)

    case = factories.queued_case(chan)
    assert route_case(case_id=case.pk, now=now) is None
    assert _held_units(ana) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_agent_another_router_is_writing_to_is_skipped_for_the_next_best(kept):
    """Ana is the best choice but locked by another router's transaction:
    this batch does not wait for her, it offers to Ben in the same call."""
    chan = factories.channel("web", default_queue=factories.queue("General"))
    now = timezone.now()
    ana = factories.agent("ana", capacity={"api": 5}, total=5)
    ben = factories.agent("ben", capacity={"api": 1}, total=1)
    locked, release = threading.Event(), threading.Event()

    def other_router():
        try:
            with transaction.atomic():
                Agent.objects.select_for_update().get(pk=ana.pk)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_router)
    thread.start()
    try:
        assert locked.wait(30)
        case = factories.queued_case(chan)
        offer = route_case(case_id=case.pk, now=now)
    finally:
        release.set()
        thread.join(30)
    assert offer is not None and offer.agent_id == ben.pk


def _ben_comes_online_elsewhere(settings, state_ms: int):
    """Ana is full with a first case; another process brings Ben online
    (nothing this process hears of). Returns Ben and a second waiting case."""
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "ROUTER_STATE_MS": state_ms}
    planning.clear()
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana", capacity={"api": 1}, total=1)
    ben = factories.agent("ben", present=False)
    first = route_case(case_id=factories.queued_case(chan).pk, now=timezone.now())
    assert first is not None and first.agent_id == ana.pk
    Agent.objects.filter(pk=ben.pk).update(present_until=timezone.now() + timezone.timedelta(minutes=30))
    return ben, factories.queued_case(chan)


def _routed_soon(case):
    """Route the case again and again for up to 10 s; the offer, or None."""
    routed, deadline = None, time.monotonic() + 10
    while routed is None and time.monotonic() < deadline:
        time.sleep(0.05)
        routed = route_case(case_id=case.pk, now=timezone.now())
    return routed


def _background_read_done():
    """Let the background read finish before the database goes."""
    mine, deadline = planning.this_thread(), time.monotonic() + 10
    while mine.refreshing and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_a_pool_older_than_its_time_is_read_again_in_the_background(settings):
    """Once the pool is older than ROUTER_STATE_MS a background thread reads
    every agent again, and a later batch plans on that."""
    ben, case = _ben_comes_online_elsewhere(settings, 100)
    routed = _routed_soon(case)
    assert routed is not None and routed.agent_id == ben.pk
    _background_read_done()


@pytest.mark.django_db(transaction=True)
def test_background_reads_are_spaced_by_what_the_last_one_cost(settings):
    """A full read that took long is not repeated every
    ROUTER_STATE_MS: the next waits REFRESH_SPACING times as long."""
    ben, case = _ben_comes_online_elsewhere(settings, 50)
    try:
        planning.read_seconds = 60.0  # as if the last read took a minute: next in 20 minutes
        for _ in range(10):
            time.sleep(0.06)
            assert route_case(case_id=case.pk, now=timezone.now()) is None  # Ben not seen yet
        assert not planning.this_thread().refreshing
        planning.read_seconds = 0.0
        routed = _routed_soon(case)
        assert routed is not None and routed.agent_id == ben.pk
    finally:
        planning.read_seconds = 0.0
        _background_read_done()
