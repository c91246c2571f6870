"""route: how fast several routers drain a deep backlog, against the minimal SQL.

On PostgreSQL, production settings. 1,000 agents with 3–8 of 20 skills
(proficiency 1–5, a language skill among them), in presence statuses that
enable web chat and API cases, chat only, or nothing; a few are not present.
100,000 queued cases across four queues (one assigns at once instead of
offering), each needing 0–2 skills at a minimum proficiency of 1–3, chosen so
that at least one routable agent may take it; capacity leaves room for all
of them. Before them, resolved cases with their offers (``--history``), so
tables and planner statistics are not those of an empty system. A fixed
random seed makes every run route the same backlog.

Phases, each measured on its own:

1. decision — with the agents seeded and (almost) nothing waiting, one case
   is queued at a time and ``routing.batch.route_case`` is timed around
   the call (``--decisions`` of them, after a few not counted). The decision
   cases are deleted afterwards.
2. throughput — the backlog is seeded and ``--routers`` OS processes (each a
   Django process with its own connection) loop on
   ``routing.batch.route_waiting(now=..., limit=--batch)`` from one start
   signal until nothing waiting may be taken by anyone or ``--seconds`` pass
   (checked between calls: one call may loop over many batches itself).
   Assignments (pending offers + assigned cases, counted in the database
   afterwards) divided by the time from the start signal to the last router
   finishing is ``assignments_per_s``.
3. reference — on a file-level copy of the database taken before the routers
   ran, ``pgbench -M prepared`` runs the minimal hand-written routing
   transaction (lock the most urgent waiting case and a present agent whose
   status enables its channel kind, both SKIP LOCKED; mark the case offered;
   update the agent; insert the offer) with as many clients as routers. Its
   transactions per second are ``sql_reference_per_s``; ``ratio`` is the
   routers' figure over it.

Afterwards the routing promises are checked on the routers' database and a
violation fails the part: at most one pending offer per case, no agent over
capacity on any channel kind or in total, every offer (and auto-accepted
case) went to an agent present and in a status enabling its channel kind,
with the case's required skills.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bench.results import Figure, PartResult, percentile
from bench.stack import (
    BENCH_DATABASE,
    POSTGRES_URL,
    ROOT,
    VAR,
    Processes,
    Stack,
    StackError,
    command_cpu_seconds,
    group_cpu_seconds,
    machine_cpu_seconds,
)

TITLE = "routing throughput: routers drain 100,000 waiting cases to 1,000 agents, vs the minimal SQL under pgbench"

SQL_DATABASE = f"{BENCH_DATABASE}_sql"
PLAIN_DATABASE = f"{BENCH_DATABASE}_plain"  # the same backlog, routed without explanations
SCRIPT = VAR / "route_offer.sql"  # the generated pgbench script, kept for running by hand
KINDS = ("web_chat", "api")
OFFER_TIMEOUT = 3600  # seconds: no offer times out (and is re-routed) while the bench runs
MAX_UNITS = 32767  # PositiveSmallIntegerField
LANGUAGES = (("en", 0.70), ("es", 0.15), ("pt", 0.10), ("fr", 0.05))
PRODUCTS = (
    "billing",
    "shipping",
    "returns",
    "orders",
    "accounts",
    "payments",
    "refunds",
    "technical",
    "warranty",
    "subscriptions",
    "loyalty",
    "fraud",
    "business",
    "partners",
    "onboarding",
    "complaints",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--routers", type=int, default=4, help="router processes (default 4)")
    parser.add_argument("--cases", type=int, default=100_000, help="waiting cases to drain (default 100000)")
    parser.add_argument("--agents", type=int, default=1000, help="agents (default 1000)")
    parser.add_argument("--skills", type=int, default=20, help="skills, a few of them languages (default 20)")
    parser.add_argument(
        "--batch", type=int, default=200, help="route_waiting(limit=...) per call (default 200, the router's own)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="time budget of the routers, checked between route_waiting calls (default 60)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=1000,
        help=f"units per agent, per channel kind and in total (default 1000, at most {MAX_UNITS}): "
        "room for every case, so the run measures routing, not capacity running out",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=20_000,
        help="resolved cases with their offers seeded first, so tables and planner statistics are not those of "
        "an empty system (default 20000)",
    )
    parser.add_argument(
        "--explain-ratio",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="route the same backlog a second time without keeping explanations, and print the ratio (default on)",
    )
    parser.add_argument("--decisions", type=int, default=300, help="single decisions timed at low load (default 300)")
    parser.add_argument("--sql-seconds", type=float, default=10.0, help="seconds pgbench runs (default 10)")
    parser.add_argument(
        "--sql-agent-order",
        choices=sorted(AGENT_ORDERS),
        default="id",
        help="how the reference transaction picks among eligible agents: 'id' (the first one not locked, by "
        "primary key: an index scan) or 'idle' (longest idle first: a sort of every present agent per "
        "transaction) (default id)",
    )
    parser.add_argument(
        "--decision-seconds",
        type=float,
        default=100.0,
        help="time budget of the single decisions; fewer are timed when it runs out (default 100)",
    )
    parser.add_argument("--seed", type=int, default=20261124, help="random seed of the data (default fixed)")
    parser.add_argument(
        "--idle-calls",
        type=int,
        default=3,
        help="a router stops after route_waiting returned 0 this many times in a row and nothing waiting "
        "may be taken by anyone (default 3)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile router 1's CPU time with cProfile (slower); the top functions are printed and the stats "
        "kept in var/bench/route-router-1.prof",
    )


# --- Inside Django (run through bench.in_django) ---------------------------------------


class _Timer:
    """A database execute wrapper: counts queries and the time spent in them,
    apart for those made by event listeners (in the committing thread, or in
    the process's event thread: see ``config.events``)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.listener_count = 0
        self.listener_seconds = 0.0
        self.paused = False
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def in_listener(self) -> bool:
        return getattr(self._local, "in_listener", False)

    @in_listener.setter
    def in_listener(self, value: bool) -> None:
        self._local.in_listener = value

    def __call__(self, execute, sql, params, many, context):
        if self.paused:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                if self.in_listener:
                    self.listener_seconds += spent
                    self.listener_count += 1
                else:
                    self.seconds += spent
                    self.count += 1


class _ListenerTimer:
    """Time spent delivering committed events to listeners (dashboards →
    channel layer, webhooks, SLA clocks, metrics), by wrapping
    ``config.events.dispatch_many`` in this process only, in whichever
    thread delivers them; their queries count as the listeners'."""

    def __init__(self, timer: _Timer) -> None:
        self.timer = timer
        self.count = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def install(self) -> None:
        from config import events

        events.dispatch_many = self._timed(events.dispatch_many)

    def _timed(self, original):
        def timed(*args, **kwargs):
            from django.db import connection

            if self.timer.in_listener:  # nested: counted once
                return original(*args, **kwargs)
            started = time.perf_counter()
            self.timer.in_listener = True
            try:
                if self.timer not in connection.execute_wrappers:  # the event thread's own connection
                    with connection.execute_wrapper(self.timer):
                        return original(*args, **kwargs)
                return original(*args, **kwargs)
            finally:
                self.timer.in_listener = False
                with self._lock:
                    self.seconds += time.perf_counter() - started
                    self.count += 1

        return timed


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _skill_names(skills: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(language skills as (name, code)), product skill names."""
    languages = max(1, min(len(LANGUAGES), skills // 5))
    products = skills - languages
    names = list(PRODUCTS[:products]) + [f"product-{n:02d}" for n in range(len(PRODUCTS), products)]
    return [(f"lang-{code}", code) for code, _ in LANGUAGES[:languages]], names


def seed_agents(*, agents: int, skills: int, capacity: int, seed: int) -> dict:
    """Skills, presence statuses, channels, queues and agents (not the cases)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from agents.models import Agent, AgentCapacity, AgentSkill, PresenceStatus, Skill
    from connectors.models import Channel
    from routing.models import AgentSelection, Queue

    started = time.perf_counter()
    rng = random.Random(seed)
    now = timezone.now()
    languages, products = _skill_names(skills)
    Skill.objects.bulk_create(
        [Skill(name=name, label=name, kind=Skill.Kind.LANGUAGE, language_code=code) for name, code in languages]
        + [Skill(name=name, label=name.title()) for name in products]
    )
    skill_ids = dict(Skill.objects.values_list("name", "pk"))
    PresenceStatus.objects.create(name="Offline", channel_kinds=[], is_default=True, order=0)
    available = PresenceStatus.objects.create(name="Available", channel_kinds=list(KINDS), order=1)
    chat_only = PresenceStatus.objects.create(name="Chat only", channel_kinds=["web_chat"], order=2)
    on_break = PresenceStatus.objects.create(name="Break", channel_kinds=[], order=3)

    def queue(name: str, **fields) -> Queue:
        return Queue.objects.create(name=name, offer_timeout_seconds=OFFER_TIMEOUT, **fields)

    queues = {
        "vip": queue("VIP", priority=1, agent_selection=AgentSelection.LONGEST_IDLE),
        "chat": queue("Chat", priority=3, channel_kinds=["web_chat"]),
        "api": queue("API", priority=3, channel_kinds=["api"], agent_selection=AgentSelection.LEAST_ACTIVE),
        "back_office": queue("Back office", priority=4, channel_kinds=["api"], auto_accept=True),
    }
    for kind in KINDS:
        Channel.objects.create(
            key=f"bench-route-{kind}",
            name=f"Bench route {kind}",
            kind=kind,
            provider="generic_json",
            default_queue=queues["chat" if kind == "web_chat" else "api"],
        )

    users = User.objects.bulk_create(
        [User(username=f"bench-agent-{n}", password="!bench-unusable") for n in range(1, agents + 1)]
    )
    rows = []
    for n, user in enumerate(users, start=1):
        draw = rng.random()
        status = available if draw < 0.80 else chat_only if draw < 0.92 else on_break if draw < 0.97 else available
        present = draw < 0.97  # the last 3%: in a routable status but gone (no live tab)
        rows.append(
            Agent(
                user=user,
                display_name=f"Bench Agent {n}",
                status=status,
                status_since=now - timezone.timedelta(seconds=rng.uniform(0, 8 * 3600)),
                present_until=now + timezone.timedelta(days=1) if present else now - timezone.timedelta(hours=1),
                capacity_total=capacity,
                idle_since=now - timezone.timedelta(seconds=rng.uniform(0, 3600)),
            )
        )
    created = Agent.objects.bulk_create(rows)
    agent_skills, capacities = [], []
    codes = [code for _, code in languages]
    weights = [w for code, w in LANGUAGES if code in codes]
    for agent in created:
        held = {rng.choices(codes, weights)[0]}
        if len(codes) > 1 and rng.random() < 0.25:
            held.add(rng.choice([c for c in codes if c not in held]))
        names = [f"lang-{code}" for code in sorted(held)]
        count = min(rng.randint(3, 8), len(names) + len(products))
        names += rng.sample(products, max(0, min(count - len(names), len(products))))
        agent_skills += [AgentSkill(agent=agent, skill_id=skill_ids[s], proficiency=rng.randint(1, 5)) for s in names]
        capacities += [AgentCapacity(agent=agent, channel_kind=kind, units=capacity) for kind in KINDS]
    AgentSkill.objects.bulk_create(agent_skills, batch_size=5000)
    AgentCapacity.objects.bulk_create(capacities, batch_size=5000)
    _analyze()
    return {
        "agents": len(created),
        "agent_skills": len(agent_skills),
        "skills": len(skill_ids),
        "languages": len(languages),
        "seconds": time.perf_counter() - started,
    }


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class _Eligibility:
    """Who may take what, as bit sets over the agents (from the database):
    present, in a status enabling the kind, with capacity on it; per (skill,
    level), the agents at or above the level."""

    def __init__(self) -> None:
        from django.utils import timezone

        from agents.models import Agent, AgentCapacity, AgentSkill, Skill

        now = timezone.now()
        ids = list(Agent.objects.order_by("pk").values_list("pk", flat=True))
        bit = {agent_id: 1 << n for n, agent_id in enumerate(ids)}
        self.kind_mask = dict.fromkeys(KINDS, 0)
        with_room = {
            (a, k) for a, k in AgentCapacity.objects.filter(units__gt=0).values_list("agent_id", "channel_kind")
        }
        for agent_id, kinds, present_until, active in Agent.objects.values_list(
            "pk", "status__channel_kinds", "present_until", "is_active"
        ):
            if not active or present_until is None or present_until <= now:
                continue
            for kind in kinds or ():
                if kind in self.kind_mask and (agent_id, kind) in with_room:
                    self.kind_mask[kind] |= bit[agent_id]
        self.skill_ids = dict(Skill.objects.values_list("name", "pk"))
        self.level_mask: dict[tuple[str, int], int] = {}
        names = {pk: name for name, pk in self.skill_ids.items()}
        for agent_id, skill_id, proficiency in AgentSkill.objects.values_list("agent_id", "skill_id", "proficiency"):
            for level in range(1, proficiency + 1):
                key = (names[skill_id], level)
                self.level_mask[key] = self.level_mask.get(key, 0) | bit[agent_id]
        self.routable = (self.kind_mask["web_chat"] | self.kind_mask["api"]).bit_count()

    def agents_for(self, kind: str, required: dict[str, int]) -> int:
        mask = self.kind_mask[kind]
        for skill, level in required.items():
            mask &= self.level_mask.get((skill, level), 0)
        return mask.bit_count()


class _CaseSpecs:
    """Random cases, each with at least one agent who may take it."""

    def __init__(self, rng: random.Random, eligibility: _Eligibility) -> None:
        self.rng = rng
        self.eligibility = eligibility
        self.codes = [name.removeprefix("lang-") for name in eligibility.skill_ids if name.startswith("lang-")]
        self.weights = [w for code, w in LANGUAGES if code in self.codes]
        self.products = [name for name in eligibility.skill_ids if not name.startswith("lang-")]
        self.redrawn = 0
        self.fallbacks = 0
        self.eligible_counts: list[int] = []

    def _draw(self, kind: str, language: str) -> dict[str, int]:
        rng = self.rng
        count = rng.choices([0, 1, 2], [0.30, 0.45, 0.25])[0]
        required: dict[str, int] = {}
        if count and (language != "en" and rng.random() < 0.9 or language == "en" and rng.random() < 0.2):
            required[f"lang-{language}"] = rng.randint(1, 3)
        for name in rng.sample(self.products, max(0, min(count - len(required), len(self.products)))):
            required[name] = rng.randint(1, 3)
        return required

    def next(self) -> dict:
        rng = self.rng
        kind = "web_chat" if rng.random() < 0.7 else "api"
        language = rng.choices(self.codes, self.weights)[0]
        vip = rng.random() < 0.05
        for attempt in range(50):
            required = self._draw(kind, language)
            eligible = self.eligibility.agents_for(kind, required)
            if eligible:
                self.redrawn += attempt
                break
        else:
            required, eligible = {}, self.eligibility.agents_for(kind, {})
            self.fallbacks += 1
        self.eligible_counts.append(eligible)
        if vip:
            queue = "VIP"
        elif kind == "web_chat":
            queue = "Chat"
        else:
            queue = "Back office" if rng.random() < 0.25 else "API"
        return {
            "kind": kind,
            "language": language,
            "vip": vip,
            "priority": rng.choices([1, 2, 3, 4], [0.03, 0.15, 0.72, 0.10])[0],
            "queue": queue,
            "required": required,
        }


def _ranker():
    """queued_at, queue priority, priority, vip → route_rank, by the router's
    own rank function where there is one (else the time it was queued)."""
    from datetime import UTC, datetime

    from cases.models import Case

    if not _has_field(Case, "route_rank"):
        return None, "no route_rank"
    try:
        from routing.core.rank import rank
    except ImportError:
        return (lambda queued_at, **_: queued_at), "queued_at"
    aging = 60.0
    with contextlib.suppress(Exception):
        from routing.models import RoutingSettings

        aging = float(RoutingSettings.current().aging_seconds)

    def ranked(queued_at, *, queue_priority, priority, vip):
        try:
            value = rank(
                queued_at=queued_at.timestamp(),
                queue_priority=queue_priority,
                priority=priority,
                vip=vip,
                aging_seconds=aging,
            )
        except TypeError:
            return queued_at
        return datetime.fromtimestamp(value, UTC)

    return ranked, f"routing.core.rank.rank, aging {aging:g} s"


def _new_cases(specs: list[dict], *, now, first: int, spread: float = 1800) -> tuple[list, list]:
    """Unsaved Customer and Case objects for these specs, queued within the
    last ``spread`` seconds."""
    from django.utils import timezone

    from cases.models import Case, CaseStatus, Customer
    from connectors.models import Channel
    from routing.models import Queue

    queues = {q.name: q for q in Queue.objects.all()}
    channels = {c.kind: c for c in Channel.objects.filter(key__startswith="bench-route-")}
    rank, _ = _ranker()
    rng = random.Random(first)
    customers, cases = [], []
    for n, spec in enumerate(specs, start=first):
        customer = Customer(
            display_name=f"Customer {n}",
            tier=Customer.Tier.VIP if spec["vip"] else Customer.Tier.STANDARD,
            language=spec["language"],
        )
        customers.append(customer)
        queued_at = now - timezone.timedelta(seconds=rng.uniform(0, spread))
        queue = queues[spec["queue"]]
        case = Case(
            customer=customer,
            channel=channels[spec["kind"]],
            channel_kind=spec["kind"],
            thread_key=f"bench-{n}",
            subject=f"Bench case {n}",
            status=CaseStatus.QUEUED,
            priority=spec["priority"],
            queue=queue,
            language=spec["language"],
            created_at=queued_at - timezone.timedelta(seconds=rng.uniform(0, 60)),
            queued_at=queued_at,
        )
        if rank is not None:
            case.route_rank = rank(queued_at, queue_priority=queue.priority, priority=case.priority, vip=spec["vip"])
        cases.append(case)
    return customers, cases


def seed_history(*, cases: int, seed: int) -> dict:
    """Yesterday's work: ``cases`` resolved cases of returning customers, each
    with its accepted offer (a fifth also with a declined or missed one
    before), so the tables and the planner's statistics look like a working
    system's rather than an empty one's."""
    from django.db import transaction
    from django.utils import timezone

    from agents.models import Agent
    from cases.models import Case, CaseStatus, Customer
    from connectors.models import Channel
    from routing.models import Offer, Queue

    started = time.perf_counter()
    rng = random.Random(seed + 3)
    now = timezone.now()
    agent_ids = list(Agent.objects.values_list("pk", flat=True))
    queues = {q.name: q for q in Queue.objects.all()}
    channels = {c.kind: c for c in Channel.objects.filter(key__startswith="bench-route-")}
    customers = [Customer(display_name=f"Returning customer {n}") for n in range(max(1, cases // 2))]
    objects, offers = [], []
    for n in range(cases):
        kind = "web_chat" if rng.random() < 0.7 else "api"
        queued_at = now - timezone.timedelta(seconds=rng.uniform(3600, 14 * 86400))
        offered_at = queued_at + timezone.timedelta(seconds=rng.uniform(1, 120))
        assigned_at = offered_at + timezone.timedelta(seconds=rng.uniform(1, 30))
        agent_id = rng.choice(agent_ids)
        case = Case(
            customer=customers[n % len(customers)],
            channel=channels[kind],
            channel_kind=kind,
            thread_key=f"bench-history-{n}",
            subject=f"Earlier case {n}",
            status=CaseStatus.RESOLVED,
            queue=queues["Chat" if kind == "web_chat" else "API"],
            assignee_id=agent_id,
            created_at=queued_at,
            queued_at=queued_at,
            first_offered_at=offered_at,
            first_assigned_at=assigned_at,
            first_response_at=assigned_at + timezone.timedelta(seconds=rng.uniform(5, 120)),
            resolved_at=assigned_at + timezone.timedelta(seconds=rng.uniform(60, 3600)),
        )
        objects.append(case)
        if rng.random() < 0.2:
            refused = Offer.Status.DECLINED if rng.random() < 0.5 else Offer.Status.TIMED_OUT
            offers.append(
                Offer(
                    case=case,
                    agent_id=rng.choice(agent_ids),
                    channel_kind=kind,
                    status=refused,
                    created_at=offered_at - timezone.timedelta(seconds=60),
                    expires_at=offered_at,
                    responded_at=offered_at,
                )
            )
        offers.append(
            Offer(
                case=case,
                agent_id=agent_id,
                channel_kind=kind,
                status=Offer.Status.ACCEPTED,
                created_at=offered_at,
                expires_at=offered_at + timezone.timedelta(seconds=60),
                responded_at=assigned_at,
            )
        )
    with transaction.atomic():
        Customer.objects.bulk_create(customers, batch_size=5000)
        for case in objects:
            case.customer_id = case.customer.pk
        Case.objects.bulk_create(objects, batch_size=5000)
        for offer in offers:
            offer.case_id = offer.case.pk
        Offer.objects.bulk_create(offers, batch_size=5000)
    _analyze()
    return {"cases": len(objects), "offers": len(offers), "seconds": time.perf_counter() - started}


def seed_cases(*, cases: int, seed: int) -> dict:
    """The backlog: ``cases`` queued cases with their customers and required skills."""
    from django.db import transaction
    from django.utils import timezone

    from cases.models import Case, CaseSkill, Customer

    started = time.perf_counter()
    eligibility = _Eligibility()
    generator = _CaseSpecs(random.Random(seed + 1), eligibility)
    specs = [generator.next() for _ in range(cases)]
    customers, objects = _new_cases(specs, now=timezone.now(), first=1)
    with transaction.atomic():
        Customer.objects.bulk_create(customers, batch_size=5000)
        for case in objects:
            case.customer_id = case.customer.pk
        Case.objects.bulk_create(objects, batch_size=5000)
        CaseSkill.objects.bulk_create(
            [
                CaseSkill(case_id=case.pk, skill_id=eligibility.skill_ids[name], min_proficiency=level)
                for case, spec in zip(objects, specs, strict=True)
                for name, level in spec["required"].items()
            ],
            batch_size=5000,
        )
    inserted = time.perf_counter() - started
    _analyze()
    counts = sorted(generator.eligible_counts)
    _, rank_source = _ranker()
    return {
        "cases": len(objects),
        "case_skills": sum(len(s["required"]) for s in specs),
        "by_kind": {kind: sum(1 for s in specs if s["kind"] == kind) for kind in KINDS},
        "by_queue": {q: sum(1 for s in specs if s["queue"] == q) for q in {s["queue"] for s in specs}},
        "eligible_agents_p10": percentile(counts, 0.10),
        "eligible_agents_p50": percentile(counts, 0.50),
        "eligible_agents_min": counts[0] if counts else None,
        "routable_agents": eligibility.routable,
        "redrawn": generator.redrawn,
        "fallbacks": generator.fallbacks,
        "rank": rank_source,
        "insert_seconds": inserted,
        "seconds": time.perf_counter() - started,
    }


def decide(*, count: int, warmup: int, seed: int, seconds: float) -> dict:
    """Queue one case at a time and time ``route_case`` on it, ``count``
    times after ``warmup`` or until ``seconds`` pass; the cases are deleted
    afterwards."""
    from django.db import connection
    from django.utils import timezone

    from cases.models import Case, CaseSkill, Customer
    from config.events import dispatcher
    from routing.batch import route_case

    eligibility = _Eligibility()
    generator = _CaseSpecs(random.Random(seed + 2), eligibility)
    timer = _Timer()
    listeners = _ListenerTimer(timer)
    listeners.install()
    times, queries, sql_ms, listener_ms, outcomes = [], [], [], [], {"offer": 0, "assigned": 0, "none": 0}
    pushed = []  # until the committed events were delivered (the offer on the agent's socket, …)
    case_ids, customer_ids = [], []
    try:
        budget = time.monotonic() + seconds
        for n in range(warmup + count):
            if time.monotonic() > budget:
                break
            spec = generator.next()
            customers, cases = _new_cases([spec], now=timezone.now(), first=10_000_000 + n, spread=0)
            customer, case = customers[0], cases[0]
            customer.save()
            case.customer = customer
            case.save()
            CaseSkill.objects.bulk_create(
                [
                    CaseSkill(case=case, skill_id=eligibility.skill_ids[name], min_proficiency=level)
                    for name, level in spec["required"].items()
                ]
            )
            case_ids.append(case.pk)
            customer_ids.append(customer.pk)
            before = (timer.count + timer.listener_count, timer.seconds, listeners.seconds)
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                result = route_case(case_id=case.pk, now=timezone.now())
                elapsed = time.perf_counter() - started
                dispatcher.flush()
                delivered = time.perf_counter() - started
            if n < warmup:
                continue
            times.append(1000 * elapsed)
            pushed.append(1000 * delivered)
            queries.append(timer.count + timer.listener_count - before[0])
            sql_ms.append(1000 * (timer.seconds - before[1]))
            listener_ms.append(1000 * (listeners.seconds - before[2]))
            if result is None:
                outcomes["none"] += 1
            elif isinstance(result, Case):
                outcomes["assigned"] += 1
            else:
                outcomes["offer"] += 1
    finally:
        Case.objects.filter(pk__in=case_ids).delete()
        Customer.objects.filter(pk__in=customer_ids).delete()
    return {
        "ms": times,
        "queries": queries,
        "sql_ms": sql_ms,
        "listener_ms": listener_ms,
        "pushed_ms": pushed,
        "outcomes": outcomes,
    }


_TAKEABLE_SQL = """
WITH held AS MATERIALIZED (
    SELECT agent_id, kind, sum(units) AS units FROM (
        SELECT assignee_id AS agent_id, channel_kind AS kind, {case_units} AS units
          FROM cases_case WHERE status IN ({held}) AND assignee_id IS NOT NULL
        UNION ALL
        SELECT agent_id, channel_kind, {offer_units} FROM routing_offer WHERE status = 'pending'
    ) work GROUP BY agent_id, kind
),
room AS MATERIALIZED (
    SELECT a.id AS agent_id, cap.channel_kind AS kind,
           least(cap.units - coalesce(h.units, 0),
                 a.capacity_total - coalesce((SELECT sum(units) FROM held t WHERE t.agent_id = a.id), 0)) AS free
      FROM agents_agent a
      JOIN agents_presencestatus s ON s.id = a.status_id
      JOIN agents_agentcapacity cap ON cap.agent_id = a.id
      LEFT JOIN held h ON h.agent_id = a.id AND h.kind = cap.channel_kind
     WHERE a.is_active AND a.present_until > now() AND s.channel_kinds @> jsonb_build_array(cap.channel_kind)
)
SELECT count(*) FROM (
    SELECT 1 FROM cases_case c
     WHERE c.status = 'queued'
       AND EXISTS (
           SELECT 1 FROM room r
            WHERE r.kind = c.channel_kind AND r.free >= {this_case_units}
              AND NOT EXISTS (
                  SELECT 1 FROM cases_caseskill cs
                   WHERE cs.case_id = c.id
                     AND NOT EXISTS (
                         SELECT 1 FROM agents_agentskill ak
                          WHERE ak.agent_id = r.agent_id AND ak.skill_id = cs.skill_id
                            AND ak.proficiency >= cs.min_proficiency)))
     LIMIT %s
) takeable
"""


def _takeable(limit: int) -> int:
    """How many queued cases (up to ``limit``) some present agent in a status
    enabling the case's kind, with the skills and room, could take now."""
    from django.db import connection

    from cases.models import HELD_STATUSES, Case
    from routing.models import Offer

    has_units = _has_field(Case, "units")
    sql = _TAKEABLE_SQL.format(
        held=", ".join(f"'{s}'" for s in HELD_STATUSES),
        case_units="units" if has_units else "1",
        offer_units="units" if _has_field(Offer, "units") else "1",
        this_case_units="c.units" if has_units else "1",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return cursor.fetchone()[0]


def router(*, index: int, batch: int, seconds: float, idle_calls: int, signals: str, profile: bool) -> dict:
    """One router process: wait for the start signal, then call
    ``route_waiting`` until there is nothing left anyone may take, or the
    time budget is spent. Writes its result to ``<signals>/done-<index>.json``
    and waits for ``<signals>/exit`` (so the bench can read the CPU the
    database spent for it while its connection is still open)."""
    import resource

    from django.db import connection
    from django.utils import timezone

    from routing.batch import route_waiting

    signals_dir = Path(signals)
    timer = _Timer()
    listeners = _ListenerTimer(timer)
    listeners.install()
    connection.ensure_connection()
    _takeable(1)  # warm: connection, imports, a plan
    (signals_dir / f"ready-{index}").touch()
    start_file = signals_dir / "start"
    while not start_file.exists():
        time.sleep(0.001)
    start = float(start_file.read_text())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: where the router's own work goes
    calls = routed = zeros = checks = 0
    call_seconds: list[float] = []
    errors: list[str] = []
    reason = "nothing left to take"
    with connection.execute_wrapper(timer):
        if profiler is not None:
            profiler.enable()
        while True:
            began = time.perf_counter()
            try:
                n = route_waiting(now=timezone.now(), limit=batch)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:500])
                n = 0
                if len(errors) >= 20:
                    reason = "errors"
                    break
            call_seconds.append(time.perf_counter() - began)
            calls += 1
            routed += n or 0
            zeros = 0 if n else zeros + 1
            spent = time.time() - start >= seconds
            if zeros < idle_calls and not spent:
                if not n:
                    time.sleep(0.005)
                continue
            timer.paused = True
            try:
                checks += 1
                left = _takeable(1)
            finally:
                timer.paused = False
            if not left:
                break  # nothing left to take
            if spent:
                reason = "time budget"
                break
            zeros = 0
            time.sleep(0.02)
        if profiler is not None:
            profiler.disable()
    # Committed events still queued for this process's event thread are part
    # of the work: the run ends when they were delivered.
    from config.events import dispatcher

    dispatcher.flush(timeout=600)
    finished = time.time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    if profiler is not None:
        profiler.dump_stats(str(VAR / f"route-router-{index}.prof"))
    result = {
        "index": index,
        "calls": calls,
        "routed": routed,
        "finished_at": finished,
        "seconds": finished - start,
        "stopped": reason,
        "errors": len(errors),
        "error_samples": errors[:3],
        "queries": timer.count + timer.listener_count,
        "listener_queries": timer.listener_count,
        "sql_seconds": timer.seconds,
        "listener_seconds": listeners.seconds,
        "listener_calls": listeners.count,
        "checks": checks,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu0,
        "maxrss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "call_ms_p50": 1000 * (percentile(call_seconds, 0.5) or 0),
        "call_ms_max": 1000 * max(call_seconds, default=0),
        "pid": os.getpid(),
    }
    done = signals_dir / f"done-{index}.json"
    done.with_suffix(".tmp").write_text(json.dumps(result))
    done.with_suffix(".tmp").rename(done)
    deadline = time.monotonic() + 600
    while not (signals_dir / "exit").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return result


def check() -> dict:
    """Counts after the run, and the routing promises (violations listed)."""
    from collections import Counter, defaultdict

    from django.db.models import Count

    from agents.models import Agent, AgentCapacity, AgentSkill
    from cases.models import HELD_STATUSES, Case, CaseSkill, CaseStatus
    from routing.models import Offer

    case_units = _has_field(Case, "units")
    offer_units = _has_field(Offer, "units")
    cases = {row["status"]: row["n"] for row in Case.objects.values("status").annotate(n=Count("id"))}
    offers = {row["status"]: row["n"] for row in Offer.objects.values("status").annotate(n=Count("id"))}
    violations: list[str] = []

    doubled = list(
        Offer.objects.filter(status=Offer.Status.PENDING)
        .values("case_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("case_id", flat=True)[:5]
    )
    if doubled:
        violations.append(f"cases with two or more pending offers: {doubled}")

    pending = list(
        Offer.objects.filter(status=Offer.Status.PENDING).values_list(
            "case_id", "agent_id", "channel_kind", "units" if offer_units else "id", "case__status", "created_at"
        )
    )
    held = list(
        Case.objects.filter(status__in=HELD_STATUSES).values_list(
            "pk", "assignee_id", "channel_kind", "units" if case_units else "id", "status", "first_assigned_at"
        )
    )
    load: dict[int, Counter] = defaultdict(Counter)
    for _, agent_id, kind, units, *_ in pending:
        load[agent_id][kind] += units if offer_units else 1
    for _, agent_id, kind, units, *_ in held:
        if agent_id is not None:
            load[agent_id][kind] += units if case_units else 1
    capacity = {(a, k): u for a, k, u in AgentCapacity.objects.values_list("agent_id", "channel_kind", "units")}
    agents = {
        pk: (total, kinds or [], present_until, active)
        for pk, total, kinds, present_until, active in Agent.objects.values_list(
            "pk", "capacity_total", "status__channel_kinds", "present_until", "is_active"
        )
    }
    over = []
    for agent_id, held_units in load.items():
        limits = {kind: capacity.get((agent_id, kind), 0) for kind in held_units}
        total = agents[agent_id][0]
        if sum(held_units.values()) > total or any(v > limits[k] for k, v in held_units.items()):
            over.append(f"agent {agent_id} holds {dict(held_units)} (capacity {limits}, total {total})")
    if over:
        violations.append(f"{len(over)} agents over capacity, e.g. {over[:3]}")

    skills: dict[int, dict[int, int]] = defaultdict(dict)
    for agent_id, skill_id, proficiency in AgentSkill.objects.values_list("agent_id", "skill_id", "proficiency"):
        skills[agent_id][skill_id] = proficiency
    required: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for case_id, skill_id, level in CaseSkill.objects.values_list("case_id", "skill_id", "min_proficiency"):
        required[case_id].append((skill_id, level))

    bad_status, bad_presence, bad_skills, bad_case = [], [], [], []
    work = [(c, a, k, at, "offer") for c, a, k, _, _, at in pending]
    work += [(c, a, k, at, "case") for c, a, k, _, _, at in held if a is not None]
    for case_id, agent_id, kind, at, what in work:
        _, kinds, present_until, active = agents[agent_id]
        if kind not in kinds:
            bad_status.append(f"{what} of case {case_id} ({kind}) to agent {agent_id} in a status enabling {kinds}")
        if not active or present_until is None or (at is not None and present_until <= at):
            bad_presence.append(f"{what} of case {case_id} to agent {agent_id}, not present then")
        if any(skills[agent_id].get(s, 0) < level for s, level in required.get(case_id, ())):
            bad_skills.append(f"{what} of case {case_id} to agent {agent_id} lacking {required[case_id]}")
    for case_id, _, _, _, case_status, _ in pending:
        if case_status != CaseStatus.OFFERED:
            bad_case.append(f"case {case_id} has a pending offer but is {case_status}")
    for label, found in [
        ("work given to agents whose status does not enable its channel kind", bad_status),
        ("work given to agents not present", bad_presence),
        ("work given to agents without the required skills", bad_skills),
        ("pending offers on cases not offered", bad_case),
    ]:
        if found:
            violations.append(f"{len(found)} {label}, e.g. {found[:3]}")
    offered_without = cases.get(CaseStatus.OFFERED, 0) - len({c for c, *_ in pending})
    if offered_without:
        violations.append(f"{offered_without} offered cases without a pending offer")
    drift = _load_drift()
    if drift:
        example = next(iter(drift.items()))
        violations.append(f"{len(drift)} agents whose kept load differs from the sums, e.g. {example}")

    per_agent = sorted(sum(c.values()) for c in load.values())
    return {
        "cases": cases,
        "offers": offers,
        "pending_offers": offers.get(Offer.Status.PENDING, 0),
        "assigned": cases.get(CaseStatus.ASSIGNED, 0),
        "queued": cases.get(CaseStatus.QUEUED, 0),
        "takeable_left": _takeable(1_000_000),
        "agents_with_work": len(per_agent),
        "load_p50": percentile(per_agent, 0.5),
        "load_max": per_agent[-1] if per_agent else 0,
        "violations": violations,
        "explained": _explained(),
    }


def _load_drift() -> dict:
    """Agents whose load kept on their row (what the routers decided with)
    differs from the sums of their cases and offers."""
    try:
        from routing.loads import load_drift
    except ImportError:  # an older tree, run by hand
        return {}
    return load_drift()


def _explained() -> int | None:
    try:
        from routing.models import Explanation
    except ImportError:  # an older tree, run by hand
        return None
    return Explanation.objects.count()


# --- pgbench: the minimal routing transaction ---------------------------------------------

# Every NOT NULL column of routing_offer without a database default must be
# given here (Django defaults are not database defaults); the bench reads the
# table and stops with a clear error when one is missing.
OFFER_VALUES = {
    "case_id": ":case_id",
    "agent_id": ":agent_id",
    "channel_kind": ":kind",
    "status": "'pending'",
    "created_at": "now()",
    "expires_at": f"now() + interval '{OFFER_TIMEOUT} seconds'",
    "decline_reason": "''",
    "units": "1",
    "may_interrupt": "false",
}

AGENT_ORDERS = {
    "id": ("a.id", "the first not locked, by id"),
    "idle": ("a.idle_since NULLS LAST, a.id", "longest idle first"),
}

SCRIPT_TEMPLATE = """\
-- The minimal routing transaction: the reference of `python -m bench route`.
-- Generated by bench/route.py for the schema it ran on. Each transaction
-- consumes one queued case; to run it by hand, on a copy of the bench's
-- database (it keeps the cases the routers left queued):
--   createdb -h 127.0.0.1 -U postgres -T {source} route_sql
--   pgbench -h 127.0.0.1 -U postgres -M prepared -c 4 -j 4 -n -f {script} -T 10 route_sql
-- No skills, capacity, queue membership or events: the least a router must
-- lock and write per decision.
BEGIN;
-- the most urgent waiting case another client has not locked
SELECT id AS case_id, channel_kind AS kind
  FROM cases_case
 WHERE status = 'queued'
 ORDER BY {rank}
 LIMIT 1
   FOR UPDATE SKIP LOCKED \\gset
-- a present agent whose status enables the case's channel kind ({agent_order_label})
SELECT a.id AS agent_id
  FROM agents_agent a
  JOIN agents_presencestatus s ON s.id = a.status_id
 WHERE a.is_active
   AND a.present_until > now()
   AND s.channel_kinds @> jsonb_build_array(:kind::text)
 ORDER BY {agent_order}
 LIMIT 1
   FOR UPDATE OF a SKIP LOCKED \\gset
UPDATE cases_case
   SET status = 'offered', first_offered_at = coalesce(first_offered_at, now()), updated_at = now()
 WHERE id = :case_id;
UPDATE agents_agent SET idle_since = NULL WHERE id = :agent_id;
INSERT INTO routing_offer ({columns})
VALUES ({values});
COMMIT;
"""


def _pgbench_binary() -> str:
    found = shutil.which("pgbench") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None
    )
    if not found:
        raise StackError(
            "pgbench is not installed; it measures the reference of this part. Install it with:\n"
            "  apt-get install postgresql-client   (Debian: the postgresql-client-<version> package has pgbench)"
        )
    return found


def _checkpoint() -> None:
    """Each measured run starts just after a checkpoint: otherwise one run
    writes whole pages to the WAL (each page's first change after a
    checkpoint) that another, started later in the cycle, does not, and the
    runs' figures differ by that alone."""
    with _connect("postgres") as conn:
        conn.execute("CHECKPOINT")


def _connect(database: str):
    import psycopg

    return psycopg.connect(f"{POSTGRES_URL}/{database}", autocommit=True)


def _without_our_triggers(database: str) -> list[str]:
    """Turn off, in the reference's copy, the triggers Switchboard adds to
    cases and offers (they keep agents' loads, routing migration 0007): the
    minimal transaction keeps no loads, and must not pay for ours. Foreign
    keys' triggers stay. Returns the tables changed."""
    with _connect(database) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname IN ('cases_case', 'routing_offer') ORDER BY 1"
            )
        ]
        for table in tables:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # names from the catalog
    return tables


def _script(database: str, agent_order: str) -> tuple[str, str]:
    """The pgbench script for this schema, written to ``SCRIPT``; and the rank column."""
    with _connect(database) as conn:
        columns = {
            name: (nullable == "YES", default is not None or identity == "YES")
            for table, name, nullable, default, identity in conn.execute(
                "SELECT table_name, column_name, is_nullable, column_default, is_identity "
                "FROM information_schema.columns WHERE table_name = 'routing_offer' AND table_schema = 'public'"
            )
        }
        case_columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'cases_case' AND table_schema = 'public'"
            )
        }
    required = [name for name, (nullable, has_default) in columns.items() if not nullable and not has_default]
    missing = [name for name in required if name not in OFFER_VALUES]
    if missing:
        raise StackError(
            f"routing_offer has NOT NULL column(s) without a database default that the reference transaction "
            f"does not set: {', '.join(missing)}; add them to OFFER_VALUES in bench/route.py"
        )
    names = [name for name in OFFER_VALUES if name in columns]
    rank = "route_rank, id" if "route_rank" in case_columns else "queued_at"
    text = SCRIPT_TEMPLATE.format(
        script=SCRIPT.relative_to(ROOT),
        source=BENCH_DATABASE,
        rank=rank,
        agent_order=AGENT_ORDERS[agent_order][0],
        agent_order_label=AGENT_ORDERS[agent_order][1],
        columns=", ".join(names),
        values=", ".join(OFFER_VALUES[name] for name in names),
    )
    SCRIPT.parent.mkdir(parents=True, exist_ok=True)
    SCRIPT.write_text(text)
    return str(SCRIPT), rank


def _top_up(database: str, need: int) -> int:
    """At least ``need`` queued cases for pgbench to consume (copies of the
    queued cases, each on a new thread key); returns how many were added."""
    with _connect(database) as conn:
        queued = conn.execute("SELECT count(*) FROM cases_case WHERE status = 'queued'").fetchone()[0]
        if queued >= need or queued == 0:
            return 0
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'cases_case' "
                "AND table_schema = 'public' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        select = ", ".join(
            "thread_key || '-copy-' || id || '-' || %(round)s" if c == "thread_key" else c for c in columns
        )
        added, rounds = 0, 0
        while queued + added < need:
            rounds += 1
            added += conn.execute(
                f"INSERT INTO cases_case ({', '.join(columns)}) SELECT {select} FROM cases_case "  # noqa: S608
                "WHERE status = 'queued' LIMIT %(limit)s",
                {"round": str(rounds), "limit": need - queued - added},
            ).rowcount
        conn.execute("ANALYZE cases_case")
        return added


def _pgbench_args(database: str) -> list[str]:
    parts = urlsplit(POSTGRES_URL)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", unquote(parts.username)]
    return [*args, database]


def _pgbench(options: argparse.Namespace, stack: Stack, binary: str) -> dict:
    script, rank = _script(SQL_DATABASE, options.sql_agent_order)
    # pgbench's clients abort when no queued case is left: keep enough for a fast machine.
    added = _top_up(SQL_DATABASE, int(options.sql_seconds * 8000))
    if added:
        print(f"  {added} queued cases copied for pgbench to consume", flush=True)
    off = _without_our_triggers(SQL_DATABASE)
    clients = options.routers
    argv = [binary, "-M", "prepared", "-c", str(clients), "-j", str(clients), "-n", "-f", script]
    argv += ["-T", f"{max(1, round(options.sql_seconds))}", *_pgbench_args(SQL_DATABASE)]
    env = dict(os.environ)
    password = urlsplit(POSTGRES_URL).password
    if password:
        env["PGPASSWORD"] = unquote(password)
    _checkpoint()
    stack.settle()
    print(f"  pgbench: {' '.join(argv[1:])}", flush=True)
    busy0 = machine_cpu_seconds()
    with Processes(prefix="route", log_dir=stack.log_dir) as procs:
        server = procs.start("pgbench", argv, env=env)
        try:
            code = server.process.wait(timeout=options.sql_seconds + 120)
        except subprocess.TimeoutExpired:
            raise StackError(f"pgbench did not finish; the end of {server.log_path}:\n{server.log_tail()}") from None
        output = server.log_path.read_text(errors="replace")
    busy1 = machine_cpu_seconds()
    if code != 0:
        hint = " (no queued case was left: pgbench consumed them all)" if "expected one row, got 0" in output else ""
        raise StackError(f"pgbench exited with code {code}{hint}; its output:\n{output[-3000:]}")
    tps = re.search(
        r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)", output
    )
    if tps is None:
        raise StackError(f"could not read tps from pgbench's output:\n{output[-2000:]}")
    done = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    latency = re.search(r"latency average = ([\d.]+) ms", output)
    return {
        "tps": float(tps.group(1)),
        "transactions": int(done.group(1)) if done else None,
        "failed": int(failed.group(1)) if failed else 0,
        "latency_ms": float(latency.group(1)) if latency else None,
        "clients": clients,
        "triggers_off": off,
        "rank": rank,
        "agent_order": options.sql_agent_order,
        "topped_up": added,
        "machine_busy_pct": 100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
    }


# --- The routers -------------------------------------------------------------------------


def _routers(options: argparse.Namespace, stack: Stack, env: dict[str, str]) -> dict:
    signals = VAR / f"route-signals-{secrets.token_hex(4)}"
    signals.mkdir(parents=True)
    try:
        return _run_routers(options, stack, env, signals)
    finally:
        shutil.rmtree(signals, ignore_errors=True)


def _run_routers(options: argparse.Namespace, stack: Stack, env: dict[str, str], signals: Path) -> dict:
    import sys

    with Processes(prefix="route", log_dir=stack.log_dir) as procs:
        servers = []
        for index in range(1, options.routers + 1):
            kwargs = {
                "index": index,
                "batch": options.batch,
                "seconds": options.seconds,
                "idle_calls": options.idle_calls,
                "signals": str(signals),
                "profile": options.profile and index == 1,
            }
            servers.append(
                procs.start(
                    f"router-{index}",
                    [sys.executable, "-m", "bench.in_django", "bench.route:router", json.dumps(kwargs)],
                    env=env,
                )
            )
        deadline = time.monotonic() + 120
        while not all((signals / f"ready-{i}").exists() for i in range(1, options.routers + 1)):
            procs.check()
            if time.monotonic() > deadline:
                raise StackError("the router processes were not ready within 120 s")
            time.sleep(0.05)
        _checkpoint()
        stack.settle()
        cpu0 = {
            "postgres": command_cpu_seconds("postgres"),
            "routers": sum(group_cpu_seconds(s.process.pid) for s in servers),
        }
        machine0 = machine_cpu_seconds()
        start = time.time()
        (signals / "start.tmp").write_text(repr(start))
        (signals / "start.tmp").rename(signals / "start")
        print(f"  {options.routers} routers started (batch {options.batch}, budget {options.seconds:g} s)", flush=True)
        deadline = time.monotonic() + options.seconds + 300
        last_report = time.monotonic()
        done: dict[int, dict] = {}
        while len(done) < options.routers:
            for i in range(1, options.routers + 1):
                path = signals / f"done-{i}.json"
                if i not in done and path.exists():
                    done[i] = json.loads(path.read_text())
            if len(done) == options.routers:
                break
            procs.check()
            if time.monotonic() > deadline:
                raise StackError(
                    f"routers still running {options.seconds + 300:.0f} s after the start; "
                    f"logs: {stack.log_dir}/route-router-*.log"
                )
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                print(f"  … {time.time() - start:.0f} s, {len(done)} routers done", flush=True)
            time.sleep(0.02)
        machine1 = machine_cpu_seconds()
        cpu1 = {
            "postgres": command_cpu_seconds("postgres"),
            "routers": sum(group_cpu_seconds(s.process.pid) for s in servers),
        }
        (signals / "exit").touch()
        for server in servers:
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise StackError(f"{server.name} did not exit; the end of its log:\n{server.log_tail()}") from None
            if server.process.returncode != 0:
                raise StackError(
                    f"{server.name} exited with code {server.process.returncode}; the end of its log:\n"
                    f"{server.log_tail()}"
                )
    results = [done[i] for i in sorted(done)]
    wall = max(r["finished_at"] for r in results) - start
    return {
        "routers": results,
        "wall_seconds": wall,
        "cpu": {k: cpu1[k] - cpu0[k] for k in cpu0},
        "machine_busy": machine1[0] - machine0[0],
        "machine_total": machine1[1] - machine0[1],
    }


def _profile_summary(path: Path, top: int = 12) -> list[str]:
    import io
    import pstats

    if not path.exists():
        return []
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if re.match(r"\s*\d", line)]
    return [re.sub(r"\s+", " ", line.strip()) for line in lines[:top]]


# --- The part -----------------------------------------------------------------------------


def run(options: argparse.Namespace, stack: Stack) -> PartResult:
    if min(options.routers, options.cases, options.agents, options.batch, options.decisions) < 1:
        raise StackError("--routers, --cases, --agents, --batch and --decisions must be at least 1")
    if options.skills < 3:
        raise StackError("--skills must be at least 3")
    if not 1 <= options.capacity <= MAX_UNITS:
        raise StackError(f"--capacity must be between 1 and {MAX_UNITS}")
    if options.seconds <= 0 or options.sql_seconds < 1:
        raise StackError("--seconds must be positive and --sql-seconds at least 1")
    pgbench = _pgbench_binary()
    stack.flush_redis()
    env = stack.production_env(database_url=stack.database_url(), redis_url=stack.redis_url())
    stack.fresh_database(env=env)

    agents = stack.django(
        "bench.route:seed_agents",
        env=env,
        agents=options.agents,
        skills=options.skills,
        capacity=options.capacity,
        seed=options.seed,
    )
    print(f"  {agents['agents']} agents with {agents['agent_skills']} skills seeded in {agents['seconds']:.1f} s")
    if options.history > 0:
        history = stack.django(
            "bench.route:seed_history", env=env, timeout=900, cases=options.history, seed=options.seed
        )
        print(
            f"  {history['cases']} resolved cases with {history['offers']} offers seeded in {history['seconds']:.1f} s",
            flush=True,
        )
    stack.settle()
    decided = stack.django(
        "bench.route:decide",
        env=env,
        timeout=options.decision_seconds + 300,
        count=options.decisions,
        warmup=min(20, options.decisions),
        seed=options.seed,
        seconds=options.decision_seconds,
    )
    if not decided["ms"]:
        raise StackError(f"no single decision finished within --decision-seconds {options.decision_seconds:g}")
    print(
        f"  {len(decided['ms'])} single decisions: p50 {percentile(decided['ms'], 0.5):.1f} ms, "
        f"p99 {percentile(decided['ms'], 0.99):.1f} ms",
        flush=True,
    )
    seeded = stack.django("bench.route:seed_cases", env=env, timeout=900, cases=options.cases, seed=options.seed)
    print(f"  {seeded['cases']} queued cases seeded in {seeded['seconds']:.1f} s (rank: {seeded['rank']})", flush=True)
    stack.clone_database(SQL_DATABASE)
    if options.explain_ratio:
        stack.clone_database(PLAIN_DATABASE)
    try:
        routed = _routers(options, stack, env)
        checked = stack.django("bench.route:check", env=env, timeout=600)
        plain = None
        if options.explain_ratio:
            # The same backlog again, routed without keeping explanations.
            plain_env = {**env, "DATABASE_URL": stack.database_url(PLAIN_DATABASE), "SWITCHBOARD_EXPLANATION_DAYS": "0"}
            plain_routed = _routers(options, stack, plain_env)
            plain_checked = stack.django("bench.route:check", env=plain_env, timeout=600)
            plain_assignments = plain_checked["pending_offers"] + plain_checked["assigned"]
            plain = {
                "per_s": plain_assignments / plain_routed["wall_seconds"] if plain_routed["wall_seconds"] else None,
                "assignments": plain_assignments,
                "explained": plain_checked["explained"],
            }
        sql = _pgbench(options, stack, pgbench)
    finally:
        with contextlib.suppress(Exception):
            stack.drop_database(SQL_DATABASE)
        with contextlib.suppress(Exception):
            stack.drop_database(PLAIN_DATABASE)
    with _connect("postgres") as conn:
        sql["autovacuum"] = conn.execute("SHOW autovacuum").fetchone()[0]
    return _result(options, agents, decided, seeded, routed, checked, sql, plain)


def _result(
    options: argparse.Namespace,
    agents: dict,
    decided: dict,
    seeded: dict,
    routed: dict,
    checked: dict,
    sql: dict,
    plain: dict | None = None,
) -> PartResult:
    routers = routed["routers"]
    wall = routed["wall_seconds"]
    assignments = checked["pending_offers"] + checked["assigned"]
    rate = assignments / wall if wall > 0 else None
    queries = sum(r["queries"] for r in routers)
    listener_queries = sum(r["listener_queries"] for r in routers)
    sql_seconds = sum(r["sql_seconds"] for r in routers)
    listener_seconds = sum(r["listener_seconds"] for r in routers)
    router_cpu = sum(r["cpu_seconds"] for r in routers)
    busy = 100 * routed["machine_busy"] / routed["machine_total"] if routed["machine_total"] else None
    rss = max(r["maxrss_mb"] for r in routers)
    errors = sum(r["errors"] for r in routers)
    stopped = sorted({r["stopped"] for r in routers})
    decision_queries = percentile(decided["queries"], 0.5)

    result = PartResult(
        part="route",
        figures=[
            Figure(
                "assignments_per_s",
                rate,
                "assignments/s",
                reference=sql["tps"],
                reference_key="sql_reference_per_s",
                ratio_key="ratio",
            ),
            Figure(
                "with_explanations_per_s",
                rate if plain else None,
                "assignments/s",
                reference=plain["per_s"] if plain else None,
                reference_key="without_explanations_per_s",
                ratio_key="explanations_ratio",
            ),
            Figure("decision_p50_ms", percentile(decided["ms"], 0.50), "ms"),
            Figure("decision_p99_ms", percentile(decided["ms"], 0.99), "ms"),
            Figure("decision_delivered_p50_ms", percentile(decided["pushed_ms"], 0.50), "ms"),
            Figure("decision_delivered_p99_ms", percentile(decided["pushed_ms"], 0.99), "ms"),
            Figure("router_rss_mb", rss, "MB"),
            Figure("assignments", assignments, "cases"),
            Figure("cases_left_queued", checked["queued"], "cases"),
        ],
        facts={
            "agents": agents["agents"],
            "routable_agents": seeded["routable_agents"],
            "skills": agents["skills"],
            "cases": seeded["cases"],
            "routers": options.routers,
            "batch": options.batch,
            "seconds_budget": options.seconds,
            "capacity": options.capacity,
            "seed": options.seed,
            "router_wall_s": wall,
            "routers_stopped_by": ",".join(stopped),
            "offers_created": checked["pending_offers"],
            "cases_assigned": checked["assigned"],
            "takeable_left": checked["takeable_left"],
            "router_errors": errors,
            "router_calls": sum(r["calls"] for r in routers),
            "queries_per_assignment": queries / assignments if assignments else None,
            "listener_queries_per_assignment": listener_queries / assignments if assignments else None,
            "router_sql_time_pct": 100 * sql_seconds / _router_seconds(routers),
            "router_listener_time_pct": 100 * listener_seconds / _router_seconds(routers),
            "router_cpu_ms_per_assignment": 1000 * router_cpu / assignments if assignments else None,
            "postgres_cpu_ms_per_assignment": 1000 * routed["cpu"]["postgres"] / assignments if assignments else None,
            "machine_cpu_busy_pct": busy,
            "decision_max_ms": max(decided["ms"]) if decided["ms"] else None,
            "decision_queries_p50": decision_queries,
            "decision_sql_ms_p50": percentile(decided["sql_ms"], 0.5),
            "decision_listener_ms_p50": percentile(decided["listener_ms"], 0.5),
            "decisions": len(decided["ms"]),
            "decisions_not_routed": decided["outcomes"]["none"],
            "sql_clients": sql["clients"],
            "sql_transactions": sql["transactions"],
            "sql_latency_ms": sql["latency_ms"],
            "sql_agent_order": sql["agent_order"],
            "seed_cases_s": seeded["seconds"],
            "history_cases": options.history,
            "postgres_autovacuum": sql["autovacuum"],
            "eligible_agents_p50": seeded["eligible_agents_p50"],
            "eligible_agents_p10": seeded["eligible_agents_p10"],
        },
    )
    notes = result.notes
    if plain:
        notes.append(
            f"explanations: {rate or 0:,.0f} assignments/s keeping one per offer, {plain['per_s'] or 0:,.0f}/s "
            f"routing the same backlog again without ({plain['assignments']:,} assignments) — target: at most 10 % "
            f"slower; explanations kept: {checked['explained']:,} with, {plain['explained']:,} without"
        )
    notes.append(
        f"{options.routers} router processes × route_waiting(limit={options.batch}) on {seeded['cases']:,} queued "
        f"cases ({', '.join(f'{k} {v:,}' for k, v in sorted(seeded['by_queue'].items()))}), "
        f"{agents['agents']:,} agents ({seeded['routable_agents']:,} routable) with {agents['skills']} skills, "
        f"capacity {options.capacity} units; PostgreSQL + Redis, DEBUG=0"
    )
    notes.append(
        f"eligible agents per case: p10 {seeded['eligible_agents_p10']}, p50 {seeded['eligible_agents_p50']}, "
        f"min {seeded['eligible_agents_min']}; rank: {seeded['rank']}; seeded in {seeded['seconds']:.0f} s"
    )
    notes.append(
        f"{assignments:,} assignments ({checked['pending_offers']:,} offers pending, {checked['assigned']:,} assigned "
        f"at once) in {wall:.1f} s; {checked['queued']:,} cases left queued, {checked['takeable_left']:,} of them "
        f"takeable by someone; routers stopped by: {', '.join(stopped)}"
    )
    notes.append(
        f"per assignment: {queries / assignments if assignments else float('nan'):.1f} queries "
        f"({listener_queries / assignments if assignments else float('nan'):.1f} of them by listeners), "
        f"router CPU {1000 * router_cpu / assignments if assignments else float('nan'):.1f} ms, PostgreSQL CPU "
        f"{1000 * routed['cpu']['postgres'] / assignments if assignments else float('nan'):.1f} ms; routers spent "
        f"{100 * sql_seconds / _router_seconds(routers):.0f}% of their time in SQL, and their event threads "
        f"{100 * listener_seconds / _router_seconds(routers):.0f}% of it delivering committed events to listeners "
        "(dashboards → channel layer, webhooks, SLA, metrics; their SQL included); "
        f"the machine's {os.cpu_count()} cores {busy or 0:.0f}% busy"
    )
    notes.append(
        "per route_waiting call: p50 "
        + ", ".join(f"{r['call_ms_p50']:.0f}" for r in routers)
        + " ms, max "
        + ", ".join(f"{r['call_ms_max']:.0f}" for r in routers)
        + " ms (by router)"
    )
    notes.append(
        f"single decisions at low load ({len(decided['ms'])} after warm-up): {decision_queries} queries, "
        f"{percentile(decided['sql_ms'], 0.5):.1f} ms in SQL and {percentile(decided['listener_ms'], 0.5):.1f} ms "
        f"in listeners (in the event thread, after commit) at p50; committed to delivered (the offer sent to the "
        f"agent's socket): p50 {percentile(decided['pushed_ms'], 0.5):.1f} ms, p99 "
        f"{percentile(decided['pushed_ms'], 0.99):.1f} ms; outcomes {decided['outcomes']}"
        + (
            f" — only {len(decided['ms'])} of {options.decisions} within --decision-seconds"
            if len(decided["ms"]) < options.decisions
            else ""
        )
    )
    notes.append(
        f"reference: pgbench -M prepared, {sql['clients']} clients, {sql['transactions']:,} transactions, "
        f"{sql['latency_ms']} ms average; cases by {sql['rank']}, agents by "
        f"{AGENT_ORDERS[sql['agent_order']][1]}; machine {sql['machine_busy_pct']:.0f}% busy; "
        f"script {SCRIPT.relative_to(ROOT)}"
        + (
            f"; our load triggers off on {', '.join(sql['triggers_off'])} in its copy (it keeps no loads)"
            if sql.get("triggers_off")
            else ""
        )
    )
    if sql["autovacuum"] != "on":
        notes.append(
            f"this PostgreSQL runs with autovacuum {sql['autovacuum']}: planner statistics stay those of the seeded "
            f"data ({options.history:,} resolved cases with offers, then the backlog; ANALYZEd) for the whole run"
        )
    if options.profile:
        top = _profile_summary(VAR / "route-router-1.prof")
        if top:
            notes.append("router 1 CPU profile (ncalls tottime percall cumtime percall function):")
            notes.extend(f"  {line}" for line in top)
    failures = []
    if errors:
        samples = {s for r in routers for s in r["error_samples"]}
        failures.append(f"{errors} route_waiting calls raised: {'; '.join(sorted(samples)[:3])}")
    if checked["violations"]:
        failures.append("PROMISES BROKEN: " + " | ".join(checked["violations"]))
    if sql["failed"]:
        failures.append(f"pgbench: {sql['failed']} transactions failed")
    for failure in failures:
        notes.append(failure)
    if failures:
        result.failed = failures[0][:300]
    return result


def _router_seconds(routers: list[dict]) -> float:
    """The routers' summed wall time (each from the start to its finish): the
    denominator of the share of time spent in SQL or in listeners."""
    return sum(r["seconds"] for r in routers) or 1.0
