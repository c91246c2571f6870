"""``python -m bench.load [--rate 20] [--minutes 1] [--duplicates 0.1]``: the load test (``make load``).

Production mode on loopback, on PostgreSQL and Redis: uvicorn, a Celery
worker and beat, a fresh database ``switchboard_load``. Signed webhooks in
four providers' real formats (generic JSON, Twilio SMS, Telegram, WhatsApp
Cloud API) go out open-loop at a steady rate, each a first message from a new
customer; about ``--duplicates`` of the requests are a delivery sent again
(the same request, as a provider retries). Agents log in through the login
form, connect to ``/ws/agent/``, accept each offer they are sent and resolve
the case ``--hold`` seconds later.

It reports messages in, cases created, duplicates stored (must be 0), lost
(must be 0: a message answered 2xx that is not stored, or whose case never
got an offer) and the latency from the webhook's first delivery being sent
to its offer being read on the agent's websocket (p50, p99). The exit status
is 1 when anything was lost or stored twice.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import random
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from bench import providers
from bench.results import percentile
from bench.stack import (
    BENCH_DATABASE,
    BIN,
    VAR,
    Processes,
    Stack,
    StackError,
    free_port,
    hold_lock,
    machine_cpu_seconds,
    stop_all,
    wait_for_http,
)
from bench.web import Poster, login

HOST = "127.0.0.1"
PREFIX = "load"  # the channels' keys: load-generic-json, load-twilio, load-meta, load-telegram
DATABASE = "switchboard_load"
WORKER_QUEUES = "ingest,routing,outbound,celery"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[1])
    p.add_argument("--rate", type=float, default=20.0, help="webhook requests per second, duplicates included (20)")
    p.add_argument("--minutes", type=float, default=1.0, help="how long to send (1; the real run: 10)")
    p.add_argument("--duplicates", type=float, default=0.1, help="share of requests that repeat one (0.1)")
    p.add_argument("--agents", type=int, default=4, help="agents on websockets (4)")
    p.add_argument("--hold", type=float, default=3.0, help="seconds an agent keeps a case before resolving (3)")
    p.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the last offers (120)")
    p.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (2)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the provider and duplicate choices (1)")
    return p


# --- Inside Django (through bench.in_django) -------------------------------------


def seed(*, agents: int, password: str) -> dict:
    """One queue; one channel per provider; ``agents`` agents with room for
    everything a run sends them at once."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from agents.models import Agent, AgentCapacity, PresenceStatus, Role
    from routing.models import Queue

    now = timezone.now()
    kinds = list(providers.KINDS.values())
    PresenceStatus.objects.create(name="Offline", channel_kinds=[], is_default=True, order=0)
    status = PresenceStatus.objects.create(name="Available", channel_kinds=kinds, order=1)
    queue = Queue.objects.create(name="Load", offer_timeout_seconds=3600)
    providers.seed_channels(prefix=PREFIX, queue=queue)
    group, _ = Group.objects.get_or_create(name=Role.AGENT)
    out = []
    for n in range(1, agents + 1):
        user = User.objects.create_user(username=f"load-agent-{n}", password=password)
        user.groups.add(group)
        agent = Agent.objects.create(
            user=user, display_name=f"Load Agent {n}", status=status, status_since=now, capacity_total=1000
        )
        for kind in kinds:
            AgentCapacity.objects.create(agent=agent, channel_kind=kind, units=250)
        out.append({"id": agent.pk, "username": user.username})
    return {"agents": out}


def audit(*, run: str) -> dict:
    """What the database holds of this run: inbound messages per token,
    cases, offers, inbound events by status."""
    from django.db.models import Count

    from cases.models import Case, Message
    from connectors.models import InboundEvent
    from routing.models import Offer

    stored: Counter = Counter()
    case_of: dict[str, int] = {}
    for text, case_id in Message.objects.filter(direction="in", text__startswith=run).values_list("text", "case_id"):
        token = text.split(" ", 1)[0]
        stored[token] += 1
        case_of[token] = case_id
    offered = set(Offer.objects.filter(case_id__in=set(case_of.values())).values_list("case_id", flat=True))
    events = {row["status"]: row["n"] for row in InboundEvent.objects.values("status").annotate(n=Count("id"))}
    return {
        "stored": dict(stored),
        "unrouted": sorted(t for t, c in case_of.items() if c not in offered),
        "cases": Case.objects.filter(pk__in=set(case_of.values())).count(),
        "cases_by_status": {
            row["status"]: row["n"]
            for row in Case.objects.filter(pk__in=set(case_of.values())).values("status").annotate(n=Count("id"))
        },
        "events": events,
        "event_errors": list(InboundEvent.objects.filter(status="failed").values_list("error", flat=True)[:3]),
    }


# --- The run -------------------------------------------------------------------------


@dataclass(slots=True)
class Sent:
    token: str
    channel: str
    duplicate: bool
    status: int = 0
    sent_at: float = 0.0  # perf_counter() when the request was written
    error: str = ""


@dataclass(slots=True)
class Agents:
    """What the agents' websockets saw and did."""

    offers: dict[str, float] = field(default_factory=dict)  # token → when its first offer was read
    polled: set[str] = field(default_factory=set)  # offers never pushed, found in a snapshot asked for
    handled: set[int] = field(default_factory=set)  # offer ids accepted (or being)
    repeated_offers: int = 0
    accepted: int = 0
    resolved: int = 0
    resolving: int = 0
    errors: Counter = field(default_factory=Counter)
    closed: list[str] = field(default_factory=list)


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    if options.rate <= 0 or options.minutes <= 0 or options.agents < 1 or not 0 <= options.duplicates < 1:
        print("--rate, --minutes and --agents must be positive, --duplicates in [0, 1)", file=sys.stderr)
        return 2
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(options)
    except StackError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2


def run(options: argparse.Namespace) -> int:
    stack = Stack.checked()
    hold_lock(BENCH_DATABASE)  # the bench uses the same Redis db: one at a time
    plain_http = {"SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "CHANNELS_PREFIX": "switchboard-load"}
    env = stack.production_env(database_url=stack.database_url(DATABASE), redis_url=stack.redis_url(), **plain_http)
    stack.flush_redis()
    stack.fresh_database(DATABASE, env=env)
    password = secrets.token_urlsafe(12)
    seeded = stack.django("bench.load:seed", env=env, agents=options.agents, password=password)
    port = free_port()
    with Processes(prefix="load", log_dir=stack.log_dir) as procs:
        web = [str(BIN / "uvicorn"), "config.asgi:application", "--host", HOST, "--port", str(port)]
        procs.start("web", web + ["--lifespan", "on", "--no-access-log"], env=env)
        worker = [str(BIN / "celery"), "-A", "config", "worker", "-Q", WORKER_QUEUES, "-n", "load@%h"]
        worker += ["--concurrency", str(options.worker_concurrency), "--loglevel", "warning"]
        procs.start("worker", worker + ["--without-gossip", "--without-mingle"], env=env)
        beat = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "warning"]
        procs.start("beat", beat + ["--schedule", str(VAR / "load-celerybeat-schedule")], env=env)
        wait_for_http(f"http://{HOST}:{port}/accounts/login/", procs=procs)
        print(f"  uvicorn, Celery worker ×{options.worker_concurrency} and beat up on port {port}", flush=True)
        run_id = f"ld{secrets.token_hex(3)}"
        busy0, total0 = machine_cpu_seconds()
        sent, agents = asyncio.run(_drive(options, seeded, password, port, procs, run_id))
        busy1, total1 = machine_cpu_seconds()
        ours = sum(server.cpu_seconds() for server in procs.servers)
        others = (busy1 - busy0) - ours
        cpu = f"{100 * (busy1 - busy0) / max(total1 - total0, 1e-9):.0f}% busy; web, worker and beat "
        cpu += f"{ours:.0f} CPU-s, everything else on the machine {max(others, 0):.0f} CPU-s"
        found = stack.django("bench.load:audit", env=env, run=run_id, timeout=300)
        deadline = time.monotonic() + options.drain
        while (found["events"].get("received") or found["unrouted"]) and time.monotonic() < deadline:
            print(
                f"  catching up: {found['events'].get('received', 0)} events unprocessed, "
                f"{len(found['unrouted'])} cases not offered yet",
                flush=True,
            )
            time.sleep(5)
            found = stack.django("bench.load:audit", env=env, run=run_id, timeout=300)
        procs.check()
    return _report(options, sent, agents, found, stack.log_dir, cpu)


async def _drive(options, seeded: dict, password: str, port: int, procs: Processes, run_id: str):
    from websockets.asyncio.client import connect

    agents = Agents()
    sockets, tasks = [], []
    poster = Poster(HOST, port, threads=64)
    try:
        for agent in seeded["agents"]:
            cookie = await asyncio.to_thread(login, HOST, port, username=agent["username"], password=password)
            ws = await connect(
                f"ws://{HOST}:{port}/ws/agent/",
                origin=f"http://{HOST}:{port}",
                additional_headers={"Cookie": cookie},
                proxy=None,
                max_size=None,
            )
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
            if first.get("type") != "snapshot":
                raise StackError(f"expected the agent's snapshot first, got {str(first)[:200]}")
            sockets.append(ws)
        print(f"  {len(sockets)} agents logged in, websockets open", flush=True)
        tasks = [asyncio.create_task(_agent(ws, agents, options.hold, run_id)) for ws in sockets]
        sent = await _send(options, seeded, port, poster, procs, agents, run_id)
        waiting = {s.token for s in sent if 200 <= s.status < 300}
        deadline = time.perf_counter() + options.drain
        while not waiting <= agents.offers.keys() | agents.polled and time.perf_counter() < deadline:
            procs.check()
            await asyncio.sleep(0.5)
        deadline = time.perf_counter() + options.hold + 30
        while agents.resolving and time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
        return sent, agents
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=5)
        await asyncio.to_thread(poster.close)


async def _agent(ws, agents: Agents, hold: float, run_id: str) -> None:
    """Accept every offer; resolve its case ``hold`` seconds later; heartbeat."""
    from websockets.exceptions import ConnectionClosed

    async def resolve_later(case_id: int) -> None:
        await asyncio.sleep(hold)
        await ws.send(json.dumps({"type": "case.resolve", "case_id": case_id, "request_id": f"r{case_id}"}))

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(10)
            await ws.send(json.dumps({"type": "heartbeat"}))
            # What a tab would show after a reload: offers whose push never came.
            await ws.send(json.dumps({"type": "snapshot", "request_id": "poll"}))

    async def accept(offer: dict) -> None:
        if offer["id"] not in agents.handled:
            agents.handled.add(offer["id"])
            await ws.send(json.dumps({"type": "offer.accept", "offer_id": offer["id"], "request_id": offer["id"]}))

    beating = asyncio.create_task(heartbeat())
    later: set[asyncio.Task] = set()
    try:
        async for raw in ws:
            now = time.perf_counter()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "offer.created":
                offer = message["offer"]
                token = (offer.get("preview") or "").split(" ", 1)[0]
                if token in agents.offers:
                    agents.repeated_offers += 1
                elif token.startswith(run_id):
                    agents.offers[token] = now
                await accept(offer)
            elif kind == "ack" and message.get("request") == "snapshot":
                for offer in message["snapshot"]["offers"]:
                    token = (offer.get("preview") or "").split(" ", 1)[0]
                    if token.startswith(run_id) and token not in agents.offers:
                        agents.polled.add(token)
                    await accept(offer)
            elif kind == "ack" and message.get("request") == "offer.accept":
                agents.accepted += 1
                agents.resolving += 1
                task = asyncio.create_task(resolve_later(message["case_id"]))
                later.add(task)
                task.add_done_callback(later.discard)
            elif kind == "ack" and message.get("request") == "case.resolve":
                agents.resolved += 1
                agents.resolving -= 1
            elif kind == "error":
                if message.get("request") == "case.resolve":
                    agents.resolving -= 1
                agents.errors[f"{message.get('request')}: {message.get('detail')}"[:120]] += 1
    except ConnectionClosed:
        agents.closed.append(f"code {ws.close_code} {ws.close_reason!r}")
    finally:
        beating.cancel()
        for task in list(later):
            task.cancel()


async def _send(options, seeded: dict, port: int, poster: Poster, procs: Processes, agents: Agents, run_id: str):
    """Open loop: request n goes out at start + n / rate, whatever happened to earlier ones."""
    total = round(options.minutes * 60 * options.rate)
    choose = random.Random(options.seed)
    print(f"  sending {total} webhook requests at {options.rate:g}/s, ~{options.duplicates:.0%} duplicates", flush=True)
    sent: list[Sent] = []
    requests: dict[str, tuple[str, str, bytes, dict]] = {}  # token → (provider, path, body, headers), to send again
    mix = providers.Mix(prefix=PREFIX, run=run_id)  # four providers' formats, signed (bench.providers)
    posts = []
    loop = asyncio.get_running_loop()

    async def post(item: Sent, path: str, body: bytes, headers: dict) -> None:
        answer = await loop.run_in_executor(poster.pool, poster.post, path, body, headers)
        item.status, item.error = answer.status, answer.error
        item.sent_at = item.sent_at or answer.sent_at

    start = time.perf_counter() + 0.1
    fresh = 0
    for n in range(total):
        delay = start + n / options.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if n % max(1, round(options.rate * 10)) == 0:
            procs.check()
            late = time.perf_counter() - (start + n / options.rate)
            print(
                f"    {n}/{total} sent ({late:.1f} s behind schedule), {len(agents.offers)} offers read, "
                f"{agents.resolved} resolved",
                flush=True,
            )
        if requests and choose.random() < options.duplicates:
            token = choose.choice(list(requests)) if len(requests) < 500 else choose.choice(list(requests)[-500:])
            item = Sent(token=token, channel=requests[token][0], duplicate=True)
        else:
            fresh += 1
            token = mix.token(fresh)
            delivery = mix.delivery(fresh)
            requests[token] = (delivery.provider, delivery.path, delivery.body, delivery.headers)
            item = Sent(token=token, channel=delivery.provider, duplicate=False)
        _, path, body, headers = requests[item.token]
        sent.append(item)
        posts.append(asyncio.create_task(post(item, path, body, headers)))
    await asyncio.gather(*posts)
    return sent


def _report(options, sent: list[Sent], agents: Agents, found: dict, log_dir, cpu: str) -> int:
    first = {s.token: s for s in sent if not s.duplicate}
    acknowledged = {t for t, s in first.items() if 200 <= s.status < 300}
    # A message whose first delivery failed counts as acknowledged when a later one was.
    acknowledged |= {s.token for s in sent if s.duplicate and 200 <= s.status < 300}
    stored = found["stored"]
    lost_unstored = sorted(acknowledged - stored.keys())
    unrouted = sorted(set(found["unrouted"]) & acknowledged)
    stored_twice = sorted(t for t, count in stored.items() if count > 1)
    latencies = [1000 * (agents.offers[t] - first[t].sent_at) for t in acknowledged if t in agents.offers]
    statuses = Counter(s.status for s in sent)
    duplicates = [s for s in sent if s.duplicate]
    rows = [
        ("requests sent", f"{len(sent)} over {options.minutes:g} min at {options.rate:g}/s"),
        ("messages in (distinct)", f"{len(first)} ({', '.join(f'{k} {v}' for k, v in _by_channel(first).items())})"),
        ("duplicate deliveries", f"{len(duplicates)} ({len(duplicates) / max(1, len(sent)):.1%})"),
        ("answers", ", ".join(f"{code or 'no answer'}: {n}" for code, n in sorted(statuses.items()))),
        ("cases created", f"{found['cases']} {found['cases_by_status']}"),
        ("duplicates stored", f"{len(stored_twice)} (must be 0)"),
        (
            "lost",
            f"{len(lost_unstored) + len(unrouted)} (must be 0): {len(lost_unstored)} not stored, "
            f"{len(unrouted)} never offered",
        ),
        ("webhook → offer p50", f"{percentile(latencies, 0.5):.0f} ms" if latencies else "-"),
        ("webhook → offer p99", f"{percentile(latencies, 0.99):.0f} ms" if latencies else "-"),
        ("offers pushed to an agent's socket", f"{len(agents.offers)}"),
        ("offers only found in a snapshot", f"{len(agents.polled - agents.offers.keys())} (never pushed)"),
        ("offers accepted / cases resolved", f"{agents.accepted} / {agents.resolved}"),
        ("inbound events", json.dumps(found["events"])),
        (f"the machine's {os.cpu_count()} cores while sending", cpu),
    ]
    print("\nload test")
    for label, value in rows:
        print(f"  {label:34} {value}")
    if agents.errors:
        print(f"  agent errors: {dict(agents.errors.most_common(3))}")
    if agents.closed:
        print(f"  agent sockets the server closed: {len(agents.closed)} ({agents.closed[0]}); not reconnected")
    if agents.repeated_offers:
        print(f"  offers repeated for one message: {agents.repeated_offers}")
    if found["event_errors"]:
        print(f"  failed events: {found['event_errors']}")
    for label, tokens in (("not stored", lost_unstored), ("never offered", unrouted), ("stored twice", stored_twice)):
        if tokens:
            print(f"  {label}: {', '.join(tokens[:5])}{' …' if len(tokens) > 5 else ''}")
    print(f"  server logs: {log_dir}/load-*.log")
    return 1 if lost_unstored or unrouted or stored_twice else 0


def _by_channel(first: dict[str, Sent]) -> dict[str, int]:
    return dict(sorted(Counter(s.channel for s in first.values()).items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
