"""Recorded arrivals: the cases created on one day, as they were classified
(channel kind, queue, required skills, priority, customer tier), with their
real handle times (first assignment to resolution) where they have one.
Patience and reply delays come from the scenario; handle times of cases
never resolved are drawn from the scenario's distributions."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from cases.models import Case, Customer
from simulation.scenario import Scenario
from simulation.traffic import Arrival, draw


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def recorded(day: date, scenario: Scenario) -> list[Arrival]:
    """The arrivals of ``day`` (in the site's time zone), in time order."""
    start = day_start(day)
    rng = random.Random(scenario.seed)
    cases = (
        Case.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
        .select_related("queue", "customer")
        .prefetch_related("required_skills__skill")
        .order_by("created_at", "pk")
    )
    arrivals = []
    for case in cases:
        handle = None
        if case.first_assigned_at and case.resolved_at and case.resolved_at >= case.first_assigned_at:
            handle = (case.resolved_at - case.first_assigned_at).total_seconds()
        arrival = Arrival(
            case_id=case.pk,
            at=(case.created_at - start).total_seconds(),
            kind=case.channel_kind,
            queue=case.queue.name if case.queue_id else None,
            language=(case.language or "").lower(),
            priority=case.priority,
            vip=case.customer.tier == Customer.Tier.VIP,
            skills={s.skill.name: (s.min_proficiency, s.optional) for s in case.required_skills.all()},
        )
        arrivals.append(draw(arrival, scenario, rng, handle=handle))
    return arrivals
