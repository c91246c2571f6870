"""latency: a signed webhook sent → its offer arriving on the agent's websocket.

Production mode end to end, on PostgreSQL and Redis: uvicorn serves the
webhook and the websockets, a Celery worker normalizes the inbound event,
opens the case and routes it, the offer goes to the agent's socket through
channels-redis; Celery beat runs the periodic tick as in production.

Agents log in through the login form and connect to ``/ws/agent/`` like a
browser. Webhooks go out open-loop at a steady rate (each at its time,
whether or not earlier ones were answered), each from a new customer so each
opens a new case; the text starts with a unique token, which the offer's
``preview`` carries back. The clock is the bench process's: from just before
the request is written to the moment the ``offer.created`` message is read.
The first seconds (warm-up) are not counted. A webhook whose offer has not
arrived ``--timeout`` seconds after the last one was sent is lost.

Where the time goes is read back from the database afterwards: the view's
``received_at``, the ingest task's ``processed_at`` and the router's offer
``created_at`` are each stamped with the server's clock when that step began.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import resource
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.results import Figure, PartResult, percentile
from bench.stack import (
    BIN,
    VAR,
    Processes,
    Stack,
    StackError,
    command_cpu_seconds,
    free_port,
    machine_cpu_seconds,
    wait_for_http,
)
from bench.web import Answer, Poster, login

TITLE = "webhook received → offer on the agent's websocket, p50 and p99, at a steady inbound rate"

HOST = "127.0.0.1"
CHANNEL_KEY = "bench-latency"
CHANNEL_KIND = "api"
SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_UNITS = 32767  # PositiveSmallIntegerField: the most capacity an agent can have
WORKER_QUEUES = "ingest,routing,outbound,celery"  # config.settings.CELERY_TASK_ROUTES and the default queue


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second (default 20)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds sent first, not counted (default 3)")
    parser.add_argument("--agents", type=int, default=3, help="agents logged in, one websocket each (default 3)")
    parser.add_argument(
        "--quiet",
        type=float,
        default=6.0,
        help="seconds the agents' websockets sit idle before the first webhook (default 6: longer than "
        "channels-redis' 5 s blocking receive, so a consumer that cannot stay idle is caught)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds after the last webhook to wait for offers (default 30)"
    )
    parser.add_argument(
        "--accept",
        action="store_true",
        help="accept each offer over the websocket as it arrives (default: offers are left pending)",
    )
    parser.add_argument("--no-beat", dest="beat", action="store_false", help="run without Celery beat (the tick)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument(
        "--worker-loglevel", default="warning", help="Celery worker log level; 'info' logs each task's run time"
    )


# --- Inside Django (run through bench.in_django) ---------------------------------------


def seed(*, agents: int, password: str) -> dict:
    """One queue, one generic JSON channel, ``agents`` agents in a status that
    enables the channel's kind, with capacity for every case of the run."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from agents.models import Agent, AgentCapacity, PresenceStatus, Role
    from connectors.models import Channel
    from routing.models import Queue

    now = timezone.now()
    PresenceStatus.objects.create(name="Offline", channel_kinds=[], is_default=True, order=0)
    status = PresenceStatus.objects.create(name="Available", channel_kinds=[CHANNEL_KIND], order=1)
    # Offers are left pending unless --accept: a long offer timeout keeps them
    # from timing out (and being re-routed) while the bench runs.
    queue = Queue.objects.create(name="Bench", offer_timeout_seconds=3600)
    channel = Channel.objects.create(
        key=CHANNEL_KEY, name="Bench latency", kind=CHANNEL_KIND, provider="generic_json", default_queue=queue
    )
    group, _ = Group.objects.get_or_create(name=Role.AGENT)
    out = []
    for n in range(1, agents + 1):
        user = User.objects.create_user(username=f"bench-agent-{n}", password=password)
        user.groups.add(group)
        agent = Agent.objects.create(
            user=user, display_name=f"Bench Agent {n}", status=status, status_since=now, capacity_total=MAX_UNITS
        )
        AgentCapacity.objects.create(agent=agent, channel_kind=CHANNEL_KIND, units=MAX_UNITS)
        out.append({"id": agent.pk, "username": user.username})
    return {"channel_key": channel.key, "secret": channel.secret, "agents": out}


def diagnose() -> dict:
    """Where the pipeline stands: inbound events, cases and offers by status."""
    from django.db.models import Count

    from cases.models import Case
    from connectors.models import InboundEvent
    from routing.models import Offer

    def by_status(model) -> dict:
        return {row["status"]: row["n"] for row in model.objects.values("status").annotate(n=Count("id"))}

    return {
        "inbound_events": by_status(InboundEvent),
        "cases": by_status(Case),
        "offers": by_status(Offer),
        "inbound_errors": list(
            InboundEvent.objects.filter(status=InboundEvent.Status.FAILED).values_list("error", flat=True)[:3]
        ),
    }


def timestamps(*, tokens: list[str]) -> dict[str, list[float | None]]:
    """token → [view's received_at, ingest task's processed_at, offer's created_at], epoch seconds."""
    from connectors.models import InboundEvent
    from routing.models import Offer

    out: dict[str, list[float | None]] = {t: [None, None, None] for t in tokens}
    for token, received, processed in InboundEvent.objects.filter(dedupe_key__in=tokens).values_list(
        "dedupe_key", "received_at", "processed_at"
    ):
        out[token][0] = received.timestamp()
        out[token][1] = processed.timestamp() if processed else None
    for token, created in (
        Offer.objects.filter(case__messages__provider_message_id__in=tokens)
        .order_by("created_at")
        .values_list("case__messages__provider_message_id", "created_at")
    ):
        if out[token][2] is None:
            out[token][2] = created.timestamp()
    return out


# --- The run -------------------------------------------------------------------------


@dataclass(slots=True)
class Sent:
    token: str
    counted: bool
    scheduled_at: float
    answer: Answer | None = None

    @property
    def ok(self) -> bool:
        return self.answer is not None and 200 <= self.answer.status < 300


@dataclass(slots=True)
class Tally:
    """What the websockets saw."""

    offers: dict[str, float] = field(default_factory=dict)  # token → perf_counter() when read
    repeated_offers: int = 0
    unknown_offers: int = 0
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # sockets the server closed, and how
    messages: Counter = field(default_factory=Counter)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class Measurement:
    sent: list[Sent]
    tally: Tally
    seconds: float  # first counted webhook → last webhook
    cpu: dict[str, float]  # CPU seconds used from the first webhook to the last offer, by process
    wall_offset: float  # time.time() - time.perf_counter()


def run(options: argparse.Namespace, stack: Stack) -> PartResult:
    if options.rate <= 0 or options.duration <= 0 or options.agents < 1:
        raise StackError("--rate, --duration and --agents must be positive")
    stack.flush_redis()
    env = stack.production_env(database_url=stack.database_url(), redis_url=stack.redis_url())
    stack.fresh_database(env=env)
    password = secrets.token_urlsafe(12)
    seeded = stack.django("bench.latency:seed", env=env, agents=options.agents, password=password)
    port = free_port()
    with Processes(prefix="latency", log_dir=stack.log_dir) as procs:
        servers = [
            procs.start(
                "web",
                [str(BIN / "uvicorn"), "config.asgi:application", "--host", HOST, "--port", str(port)]
                + ["--lifespan", "on", "--no-access-log"],
                env=env,
            ),
            procs.start(
                "worker",
                [str(BIN / "celery"), "-A", "config", "worker", "-Q", WORKER_QUEUES, "-n", "bench-latency@%h"]
                + ["--concurrency", str(options.worker_concurrency), "--loglevel", options.worker_loglevel]
                + ["--without-gossip", "--without-mingle"],
                env=env,
            ),
        ]
        if options.beat:
            servers.append(
                procs.start(
                    "beat",
                    [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "warning"]
                    + ["--schedule", str(VAR / "latency-celerybeat-schedule")],
                    env=env,
                )
            )
        wait_for_http(f"http://{HOST}:{port}/accounts/login/", procs=procs)
        print(f"  servers up on port {port}: {', '.join(s.name for s in servers)}", flush=True)

        def cpu_now() -> dict[str, float]:
            busy, total = machine_cpu_seconds()
            own = resource.getrusage(resource.RUSAGE_SELF)
            return {
                "machine_busy": busy,
                "machine_total": total,
                **{s.name: s.cpu_seconds() for s in servers},
                "postgres": command_cpu_seconds("postgres"),
                "redis": command_cpu_seconds("redis-server"),
                "bench": own.ru_utime + own.ru_stime,
            }

        try:
            stack.settle()
            measured = asyncio.run(_measure(options, seeded, password, port, procs, cpu_now))
        except StackError as exc:
            raise StackError(f"{exc}\n{_diagnosis(stack, env)}\nserver logs: {stack.log_dir}/latency-*.log") from None
        procs.check()
        lost = [s.token for s in measured.sent if s.counted and s.ok and s.token not in measured.tally.offers]
        state = _diagnosis(stack, env) if lost else ""
        stamps = stack.django(
            "bench.latency:timestamps", env=env, tokens=[s.token for s in measured.sent if s.counted and s.ok]
        )
    return _result(options, measured, lost, state, stamps)


def _diagnosis(stack: Stack, env: dict[str, str]) -> str:
    try:
        state = stack.django("bench.latency:diagnose", env=env, timeout=60)
    except Exception as exc:
        return f"(could not read the database: {exc})"
    return f"database now: {json.dumps(state)}"


def _body(token: str) -> bytes:
    return json.dumps(
        {
            "id": token,
            "from": {"kind": "email", "address": f"{token}@bench.example.com", "name": f"Customer {token}"},
            "text": f"{token} Hello, my order has not arrived and I would like to know where it is.",
        }
    ).encode()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    return {SIGNATURE_HEADER: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


async def _measure(
    options: argparse.Namespace,
    seeded: dict,
    password: str,
    port: int,
    procs: Processes,
    cpu_now: Callable[[], dict[str, float]],
) -> Measurement:
    import websockets
    from websockets.asyncio.client import connect

    tally = Tally()
    sockets = []
    tasks: list[asyncio.Task] = []
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
            sockets.append(ws)
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
            if first.get("type") != "snapshot" or first["agent"]["id"] != agent["id"]:
                raise StackError(f"expected the agent's snapshot first, got {str(first)[:200]}")
        print(f"  {len(sockets)} agents logged in through the login form; websockets open, snapshots read", flush=True)
        tasks = [asyncio.create_task(_read(ws, tally, accept=options.accept)) for ws in sockets]
        tasks += [asyncio.create_task(_heartbeat(ws)) for ws in sockets]
        connected = time.perf_counter()
        while time.perf_counter() - connected < options.quiet:
            _check(tally, procs)
            await asyncio.sleep(0.25)

        run_id = secrets.token_hex(3)
        await _probe(poster, seeded, run_id, tally, procs)

        cpu_before = cpu_now()
        sent = await _send_steadily(poster, seeded, run_id, tally, options, procs)
        waiting = {s.token for s in sent if s.ok}
        deadline = time.perf_counter() + options.timeout
        while not waiting <= tally.offers.keys() and time.perf_counter() < deadline:
            await _next_offer(tally, procs)
        cpu_after = cpu_now()
        first_counted = min(s.scheduled_at for s in sent if s.counted)
        return Measurement(
            sent=sent,
            tally=tally,
            seconds=max(s.scheduled_at for s in sent) - first_counted,
            cpu={k: cpu_after[k] - cpu_before[k] for k in cpu_after},
            wall_offset=time.time() - time.perf_counter(),
        )
    except websockets.exceptions.InvalidStatus as exc:
        raise StackError(f"the agent websocket was refused: {exc}") from None
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


def _check(tally: Tally, procs: Processes) -> None:
    """StackError if a server died or closed an agent's websocket."""
    procs.check()
    if tally.closed:
        raise StackError(f"the server closed {len(tally.closed)} agent websocket(s): {tally.closed[0]}")


async def _next_offer(tally: Tally, procs: Processes, wait: float = 0.5) -> None:
    """Until an offer arrives or ``wait`` passes; StackError if a server died."""
    _check(tally, procs)
    tally.arrived.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.arrived.wait(), timeout=wait)


async def _read(ws, tally: Tally, *, accept: bool) -> None:
    from websockets.exceptions import ConnectionClosed

    opened = time.perf_counter()
    with contextlib.suppress(ConnectionClosed):
        await _read_messages(ws, tally, accept=accept)
    tally.closed.append(
        f"code {ws.close_code} {ws.close_reason!r} after {time.perf_counter() - opened:.1f} s "
        f"({tally.messages.total()} messages read on all sockets)"
    )


async def _read_messages(ws, tally: Tally, *, accept: bool) -> None:
    async for raw in ws:
        arrived = time.perf_counter()
        message = json.loads(raw)
        kind = message.get("type")
        tally.messages[kind] += 1
        if kind == "offer.created":
            offer = message["offer"]
            token = (offer.get("preview") or "").split(" ", 1)[0]
            if not token.startswith("bench"):
                tally.unknown_offers += 1
            elif token in tally.offers:
                tally.repeated_offers += 1
            else:
                tally.offers[token] = arrived
                tally.arrived.set()
            if accept:
                await ws.send(json.dumps({"type": "offer.accept", "offer_id": offer["id"], "request_id": offer["id"]}))
        elif kind == "ack" and message.get("request") == "offer.accept":
            tally.accepted += 1
        elif kind == "error":
            tally.errors.append(str(message.get("detail")))


async def _heartbeat(ws, every: float = 20.0) -> None:
    """What an open tab does: keep the agent present."""
    while True:
        await asyncio.sleep(every)
        await ws.send(json.dumps({"type": "heartbeat"}))


async def _post(poster: Poster, seeded: dict, item: Sent) -> None:
    body = _body(item.token)
    headers = _signed(seeded["secret"], body)
    loop = asyncio.get_running_loop()
    item.answer = await loop.run_in_executor(
        poster.pool, poster.post, f"/hooks/{seeded['channel_key']}/", body, headers
    )


async def _probe(poster: Poster, seeded: dict, run_id: str, tally: Tally, procs: Processes) -> None:
    """One webhook, waited for: the whole path works (and the worker is up)
    before the clock starts. A broken path fails here, with a diagnosis."""
    item = Sent(token=f"bench{run_id}-probe", counted=False, scheduled_at=time.perf_counter())
    await _post(poster, seeded, item)
    if not item.ok:
        answer = item.answer
        raise StackError(f"the probe webhook was answered {answer.status} {answer.error} {answer.body[:300]!r}")
    deadline = time.perf_counter() + 60
    while item.token not in tally.offers:
        if time.perf_counter() > deadline:
            raise StackError(
                "the probe webhook was accepted but its offer did not reach the agent's websocket "
                f"within 60 s; websocket messages read: {dict(tally.messages)}"
            )
        await _next_offer(tally, procs)
    print(f"  probe: offer read {1000 * (tally.offers[item.token] - item.answer.sent_at):.0f} ms after sending")


async def _send_steadily(
    poster: Poster, seeded: dict, run_id: str, tally: Tally, options: argparse.Namespace, procs: Processes
) -> list[Sent]:
    """Open loop: webhook n goes out at start + n / rate, whatever happened to
    the ones before it."""
    warm = round(options.warmup * options.rate)
    total = warm + round(options.duration * options.rate)
    print(
        f"  sending {total} webhooks at {options.rate:g}/s ({warm} warm-up, not counted); "
        f"offers {'accepted' if options.accept else 'left pending'}",
        flush=True,
    )
    sent: list[Sent] = []
    posts = []
    start = time.perf_counter() + 0.1
    for n in range(total):
        at = start + n / options.rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if n % max(1, round(options.rate)) == 0:
            _check(tally, procs)
        item = Sent(token=f"bench{run_id}-{n:06d}", counted=n >= warm, scheduled_at=at)
        sent.append(item)
        posts.append(asyncio.create_task(_post(poster, seeded, item)))
    await asyncio.gather(*posts)
    return sent


def _result(
    options: argparse.Namespace, measured: Measurement, lost: list[str], state: str, stamps: dict
) -> PartResult:
    tally = measured.tally
    counted = [s for s in measured.sent if s.counted]
    answered = [s for s in counted if s.ok]
    errors = [s for s in counted if not s.ok]
    arrived = [s for s in answered if s.token in tally.offers]
    latencies = [1000 * (tally.offers[s.token] - s.answer.sent_at) for s in arrived]
    answer_ms = [1000 * (s.answer.answered_at - s.answer.sent_at) for s in counted if s.answer is not None]
    late_ms = [1000 * (s.answer.sent_at - s.scheduled_at) for s in counted if s.answer is not None]
    rate = (len(counted) - 1) / measured.seconds if measured.seconds > 0 else None

    # Where the time goes: send → view (HTTP) → ingest task began → router began → offer read.
    stages: dict[str, list[float]] = {"http": [], "to_ingest": [], "ingest_to_route": [], "route_to_socket": []}
    for s in arrived:
        received, processed, offered = stamps.get(s.token, [None, None, None])
        if None in (received, processed, offered):
            continue
        sent_wall = s.answer.sent_at + measured.wall_offset
        read_wall = tally.offers[s.token] + measured.wall_offset
        stages["http"].append(1000 * (received - sent_wall))
        stages["to_ingest"].append(1000 * (processed - received))
        stages["ingest_to_route"].append(1000 * (offered - processed))
        stages["route_to_socket"].append(1000 * (read_wall - offered))

    all_sent = len(measured.sent) + 1  # and the probe
    cpu = measured.cpu
    machine_busy = 100 * cpu["machine_busy"] / cpu["machine_total"] if cpu["machine_total"] else None
    known = ["web", "worker", "beat", "postgres", "redis", "bench"]
    other = cpu["machine_busy"] - sum(cpu.get(k, 0) for k in known)

    result = PartResult(
        part="latency",
        figures=[
            Figure("webhook_to_offer_p50_ms", percentile(latencies, 0.50), "ms"),
            Figure("webhook_to_offer_p90_ms", percentile(latencies, 0.90), "ms"),
            Figure("webhook_to_offer_p99_ms", percentile(latencies, 0.99), "ms"),
            Figure("webhook_to_offer_max_ms", max(latencies) if latencies else None, "ms"),
            Figure("webhook_answer_p50_ms", percentile(answer_ms, 0.50), "ms"),
            Figure("webhook_answer_p99_ms", percentile(answer_ms, 0.99), "ms"),
            Figure("rate_per_s", rate, "webhooks/s"),
            Figure("offers", len(latencies), "offers"),
            Figure("lost", len(lost), "webhooks"),
            Figure("webhook_errors", len(errors), "webhooks"),
            Figure("worker_cpu_ms_per_webhook", 1000 * cpu.get("worker", 0) / all_sent, "ms CPU"),
            Figure("web_cpu_ms_per_webhook", 1000 * cpu.get("web", 0) / all_sent, "ms CPU"),
            Figure("machine_cpu_busy_pct", machine_busy, "%"),
        ],
        facts={
            "webhooks_sent": len(counted),
            "target_rate_per_s": options.rate,
            "duration_s": options.duration,
            "agents": options.agents,
            "offers_accepted": options.accept,
            "celery_beat": options.beat,
            "worker_concurrency": options.worker_concurrency,
            "send_lateness_p99_ms": percentile(late_ms, 0.99),
            "postgres_cpu_ms_per_webhook": 1000 * cpu["postgres"] / all_sent,
            "other_cpu_s": other,
        }
        | {f"stage_{name}_p50_ms": percentile(values, 0.50) for name, values in stages.items()}
        | {f"stage_{name}_p99_ms": percentile(values, 0.99) for name, values in stages.items()},
    )
    notes = result.notes
    notes.append(
        f"{len(counted)} webhooks over {measured.seconds:.1f} s to {options.agents} agent websocket(s); offers "
        f"{'accepted over the websocket' if options.accept else 'left pending (not accepted)'}; uvicorn + "
        f"Celery worker ×{options.worker_concurrency}{' + beat' if options.beat else ', no beat'}; "
        "PostgreSQL + Redis; DEBUG=0"
    )
    notes.append("clock: request written → offer.created read, in the bench process; warm-up not counted")
    if stages["http"]:
        notes.append(
            "where the time goes, p50 (p99) ms: "
            + "; ".join(
                f"{label} {percentile(stages[name], 0.5):.0f} ({percentile(stages[name], 0.99):.0f})"
                for name, label in [
                    ("http", "send→view"),
                    ("to_ingest", "view→ingest task"),
                    ("ingest_to_route", "ingest→route task"),
                    ("route_to_socket", "route→socket"),
                ]
            )
        )
    notes.append(
        "CPU-seconds while measuring: "
        + ", ".join(f"{k} {cpu[k]:.1f}" for k in known if k in cpu)
        + f", anything else {max(other, 0):.1f}; the machine's {os.cpu_count()} cores {machine_busy:.0f}% busy"
        + (" — other work competed with this run" if other > 0.2 * cpu["machine_busy"] else "")
    )
    late = percentile(late_ms, 0.99)
    if late is not None and late > 50:
        notes.append(f"the sender fell behind its schedule (p99 {late:.0f} ms late): the rate was not steady")
    if lost:
        notes.append(
            f"LOST: {len(lost)} accepted webhooks had no offer {options.timeout:g} s after the last was sent "
            f"(e.g. {', '.join(lost[:3])}); {state}"
        )
    if errors:
        samples = {f"{s.answer.status} {s.answer.error or s.answer.body[:120]!r}" for s in errors if s.answer}
        notes.append(f"ERRORS: {len(errors)} webhooks not answered 2xx: {'; '.join(sorted(samples)[:3])}")
    if tally.repeated_offers or tally.unknown_offers:
        notes.append(f"unexpected offers: {tally.repeated_offers} repeated, {tally.unknown_offers} unknown")
    if options.accept:
        notes.append(f"{tally.accepted} offers accepted, {len(tally.errors)} errors answered")
    elif tally.errors:
        notes.append(f"{len(tally.errors)} errors answered on the websocket: {tally.errors[:3]}")
    return result
