"""Several routers at once on PostgreSQL, with agents answering, offers timing
out, presence and capacity changing underneath — then every routing promise
is checked from the database."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Count, F, Sum
from django.utils import timezone

from agents.models import Agent, AgentCapacity
from agents.services import set_status, touch_presence
from cases.models import HELD_STATUSES, Case, CaseStatus
from cases.services import resolve_case
from config.api import DomainError
from routing.batch import route_agent, route_case, route_waiting
from routing.loads import load_drift
from routing.models import Offer
from routing.offers import accept_offer, decline_offer, expire_offers
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

ROUTERS = 4
ROUNDS = 40


def _worker(errors: list, fn, *args):
    def run():
        try:
            fn(*args)
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


@pytest.mark.parametrize("state_ms", [0, 1000], ids=["state-read-each-batch", "state-kept-1s"])
def test_routers_in_parallel_keep_every_promise(settings, state_ms):
    """With every batch reading all agents, and with each router planning on
    its own kept pool (as in production) that the others' writes make stale."""
    assert connection.vendor == "postgresql"
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "ROUTER_STATE_MS": state_ms}
    rng = random.Random(20261123)
    queue = factories.queue("General")
    chan = factories.channel("web", default_queue=queue)
    available = factories.status()
    email_only = factories.status("Email only", ["email"])
    agents = [
        factories.agent(
            f"a{i}",
            capacity={"api": rng.randint(1, 3)},
            total=rng.randint(1, 4),
            skills={"lang-es": rng.randint(1, 5), "billing": rng.randint(1, 5)},
        )
        for i in range(16)
    ]
    never_routable = [factories.agent(f"email{i}", presence=email_only, capacity={"api": 5}) for i in range(2)]
    absent = [factories.agent(f"absent{i}", present=False, capacity={"api": 5}) for i in range(2)]
    for _ in range(250):
        skills = rng.choice([{}, {"lang-es": rng.randint(1, 5)}, {"billing": rng.randint(1, 4)}])
        factories.queued_case(chan, skills=skills, priority=rng.randint(1, 4), units=rng.choice([1, 1, 1, 2]))
    togglers = agents[:3]
    growers = agents[3:6]
    errors: list[Exception] = []
    stop = threading.Event()

    def router(seed: int):
        local = random.Random(seed)
        for _ in range(ROUNDS):
            roll = local.random()
            if roll < 0.4:
                route_waiting(now=timezone.now(), limit=20)
            elif roll < 0.6:  # an agent pulls work (the other direction)
                route_agent(agent_id=local.choice(agents).pk, now=timezone.now())
            else:
                ids = list(Case.objects.filter(status=CaseStatus.QUEUED).values_list("pk", flat=True)[:50])
                for case_id in local.sample(ids, min(5, len(ids))):
                    route_case(case_id=case_id, now=timezone.now())

    def answerer(seed: int):
        local = random.Random(seed)
        while not stop.is_set():
            offer = Offer.objects.filter(status=Offer.Status.PENDING).order_by("?").select_related("agent").first()
            if offer is not None:
                try:
                    if local.random() < 0.7:
                        accept_offer(offer_id=offer.pk, agent=offer.agent, now=timezone.now())
                    else:
                        decline_offer(offer_id=offer.pk, agent=offer.agent, reason="busy", now=timezone.now())
                except DomainError:
                    pass  # someone else answered or it timed out first: expected in a race
            held = Case.objects.filter(status=CaseStatus.ASSIGNED).order_by("?").select_related("assignee").first()
            if held is not None and local.random() < 0.5:
                with contextlib.suppress(DomainError):
                    resolve_case(case_id=held.pk, agent=held.assignee, now=timezone.now())

    def expirer():
        while not stop.is_set():
            expire_offers(now=timezone.now() + timedelta(seconds=120), limit=5)
            stop.wait(0.05)

    def churn(seed: int):
        local = random.Random(seed)
        while not stop.is_set():
            agent = local.choice(togglers)
            status = local.choice([available, email_only])
            set_status(agent_id=agent.pk, status_id=status.pk, now=timezone.now())
            touch_presence(agent_id=local.choice(agents).pk, now=timezone.now())
            grower = local.choice(growers)  # a supervisor gives more chat capacity for the peak
            AgentCapacity.objects.filter(agent=grower, channel_kind="api", units__lt=6).update(units=F("units") + 1)
            stop.wait(0.02)

    routers = [_worker(errors, router, seed) for seed in range(ROUTERS)]
    others = [_worker(errors, answerer, 100 + i) for i in range(2)]
    others += [_worker(errors, expirer), _worker(errors, churn, 7)]
    for thread in routers + others:
        thread.start()
    for thread in routers:
        thread.join(timeout=300)
    stop.set()
    for thread in others:
        thread.join(timeout=60)
    assert not errors, errors

    # --- the promises, from the database -------------------------------------
    assert Offer.objects.count() > 50, "the run should have made plenty of offers"
    assert (
        Case.objects.filter(status=CaseStatus.ASSIGNED).exists()
        or Case.objects.filter(status=CaseStatus.RESOLVED).exists()
    )
    # at most one pending offer per case, and exactly the offered cases have one
    pending = Counter(Offer.objects.filter(status=Offer.Status.PENDING).values_list("case_id", flat=True))
    assert all(n == 1 for n in pending.values())
    offered = set(Case.objects.filter(status=CaseStatus.OFFERED).values_list("pk", flat=True))
    assert offered == set(pending)
    # exactly the held cases have an assignee
    assert not Case.objects.filter(status__in=HELD_STATUSES, assignee__isnull=True).exists()
    assert not Case.objects.filter(status__in=[CaseStatus.QUEUED, CaseStatus.OFFERED], assignee__isnull=False).exists()
    # each case was accepted at most once
    accepted = Offer.objects.filter(status=Offer.Status.ACCEPTED).values("case_id").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in accepted)
    # capacity: units held plus pending never over the agent's channel and total capacity
    for agent in Agent.objects.prefetch_related("capacities"):
        held = Case.objects.filter(assignee=agent, status__in=HELD_STATUSES).aggregate(u=Sum("units"))["u"] or 0
        offers = Offer.objects.filter(agent=agent, status=Offer.Status.PENDING).aggregate(u=Sum("units"))["u"] or 0
        cap = {c.channel_kind: c.units for c in agent.capacities.all()}
        assert held + offers <= cap.get("api", 0), agent
        assert held + offers <= agent.capacity_total, agent
    # the loads the routers decided with (kept on agents' rows by triggers) equal the sums
    assert load_drift() == {}
    # never an offer to an agent whose status or presence does not allow the channel
    assert not Offer.objects.filter(agent__in=never_routable + absent).exists()
    # declined or timed-out agents were never offered the same case again
    for case_id, agent_id in Offer.objects.filter(
        status__in=[Offer.Status.DECLINED, Offer.Status.TIMED_OUT]
    ).values_list("case_id", "agent_id"):
        later = Offer.objects.filter(case_id=case_id, agent_id=agent_id).count()
        assert later == 1, (case_id, agent_id)
