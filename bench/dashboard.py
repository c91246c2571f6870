"""dashboard: one case arrival → its update on 500 supervisor websockets.

Production mode on PostgreSQL and Redis: two uvicorn web processes hold the
supervisors' websockets (half each) through channels-redis; the sockets are
opened by a separate client process (``python -m bench.dashboard clients``),
like browsers, after logging in through the login form. A driver process
(``bench.in_django``) makes case arrivals one at a time through the real
services (``cases.services.receive_message``, ``classify_case``,
``queue_case``); the dashboards' listener marks the queue, the coalescer
computes its row and sends one delta per group. The clock starts just before
the arrival's commit (the driver's ``time.time()``) and stops when a socket
reads the delta whose ``arrivals_60`` counts that arrival (the client's
``time.time()``, same machine). "All" is the time until the last of the
sockets has it.

Reference, same run, same sockets: the driver sends a bare channel-layer
``group_send`` of a small pre-serialized message to the same group; the
figure's ratio is dashboard / bare. CPU per update is the two web processes'
CPU over each phase divided by its updates (heartbeats included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time

from bench.results import Figure, PartResult, percentile
from bench.stack import BIN, ROOT, Processes, Stack, StackError, free_port, wait_for_http

TITLE = "one case arrival → 500 supervisor websockets on 2 web processes: p50/p99 until all have it"

HOST = "127.0.0.1"
GROUP_TEAM = "Bench team"
READY = "READY "
RESULT = "RESULT "
ROUNDS = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sockets", type=int, default=500, help="supervisor websockets (default 500)")
    parser.add_argument("--updates", type=int, default=20, help="case arrivals measured, one at a time (default 20)")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between arrivals (default 0.5)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the last update")


# --- Inside Django (run through bench.in_django) ---------------------------------------


def seed(*, password: str) -> dict:
    from django.contrib.auth.models import Group, User

    from agents.models import PresenceStatus, Role, Team
    from connectors.models import Channel
    from routing.models import Queue

    PresenceStatus.objects.create(name="Offline", channel_kinds=[], is_default=True, order=0)
    team = Team.objects.create(name=GROUP_TEAM)
    queue = Queue.objects.create(name="Bench", team=team)
    Queue.objects.create(name="Other", team=team)
    channel = Channel.objects.create(
        key="bench-dash", name="Bench", kind="api", provider="generic_json", default_queue=queue
    )
    user = User.objects.create_user(username="bench-supervisor", password=password)
    user.groups.add(Group.objects.get_or_create(name=Role.SUPERVISOR)[0])
    team.supervisors.add(user)
    return {"queue_id": queue.pk, "team_id": team.pk, "channel_id": channel.pk, "username": user.username}


def arrive(*, count: int, gap: float, channel_id: int) -> list[float]:
    """``count`` new cases, one per ``gap`` seconds; the time just before each commit."""
    from django.db import transaction
    from django.utils import timezone

    from cases import services as case_services
    from cases.normalized import MessageKind, NormalizedMessage, Sender
    from connectors.models import Channel
    from dashboards.streams import coalescer
    from routing.classify import classify_case
    from routing.ranking import queue_case

    channel = Channel.objects.get(pk=channel_id)
    run = secrets.token_hex(3)
    times = []
    # Warm up (imports, connections, the flusher thread) with a delta that changes no count.
    coalescer.mark(queues=[channel.default_queue_id])
    time.sleep(max(0.5, gap))
    for n in range(count):
        started = time.monotonic()
        normalized = NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=channel.provider,
            external_id=f"{run}-{n}",
            sender=Sender(identity_kind="email", address=f"{run}-{n}@bench.example.com", display_name=f"C {n}"),
            text="Hello, where is my order?",
        )
        with transaction.atomic():
            now = timezone.now()
            received = case_services.receive_message(channel=channel, normalized=normalized, now=now)
            classify_case(case=received.case, text=normalized.text, now=now)
            queue_case(case=received.case, now=now)
            times.append(time.time())
        time.sleep(max(0.0, gap - (time.monotonic() - started)))
    time.sleep(max(1.0, gap))  # the flusher thread sends the last one
    return times


def bare_sends(*, count: int, gap: float, team_id: int, first: int = 0) -> list[float]:
    """The reference: a bare ``group_send`` of a small pre-serialized message
    to the same group, from one event loop (one Redis connection)."""
    from channels.layers import get_channel_layer

    from dashboards.scope import team_group

    layer = get_channel_layer()
    group = team_group(team_id)

    async def send_all() -> list[float]:
        times = []
        await layer.group_send("bench.warm-up", {"type": "supervisor.delta", "text": "{}"})  # connect first
        for n in range(first, first + count):
            started = time.monotonic()
            times.append(time.time())
            await layer.group_send(group, {"type": "supervisor.delta", "text": json.dumps({"type": "probe", "n": n})})
            await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))
        return times

    return asyncio.run(send_all())


# --- The client process: many supervisor websockets --------------------------------------


async def _clients(ports: list[int], sockets: int, username: str, password: str, updates: int, timeout: float) -> dict:
    from websockets.asyncio.client import connect

    from bench.web import login

    cookies = {port: await asyncio.to_thread(login, HOST, port, username=username, password=password) for port in ports}
    conns = []
    base = []
    for i in range(sockets):
        port = ports[i % len(ports)]
        ws = await connect(
            f"ws://{HOST}:{port}/ws/supervisor/",
            origin=f"http://{HOST}:{port}",
            additional_headers={"Cookie": cookies[port]},
            proxy=None,
            max_size=None,
            open_timeout=60,
        )
        snap = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        if snap.get("type") != "snapshot":
            raise SystemExit(f"expected a snapshot, got {str(snap)[:200]}")
        queue = next(q for q in snap["queues"] if q["name"] == "Bench")
        conns.append(ws)
        base.append(queue["arrivals_60"])
    print(READY + json.dumps({"sockets": len(conns)}), flush=True)

    arrivals: list[list[float | None]] = [[None] * updates for _ in conns]
    probes: list[list[float | None]] = [[None] * updates for _ in conns]
    errors: list[str] = []
    computed: list[float | None] = [None] * updates  # when the publisher had the delta ready

    async def read(i: int, ws) -> None:
        seen_a = seen_p = 0
        while seen_a < updates or seen_p < updates:
            msg = json.loads(await ws.recv())
            now = time.time()
            kind = msg.get("type")
            if kind == "delta":
                for q in msg["queues"]:
                    if q["name"] == "Bench":
                        got = min(q["arrivals_60"] - base[i], updates)
                        while seen_a < got:
                            arrivals[i][seen_a] = now
                            if i == 0:
                                computed[seen_a] = msg["now"]
                            seen_a += 1
            elif kind == "probe":
                if msg["n"] < updates and probes[i][msg["n"]] is None:
                    probes[i][msg["n"]] = now
                    seen_p += 1
            elif kind == "snapshot":
                errors.append("unexpected snapshot")

    tasks = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(conns)]
    # The driver runs now; we stop when every socket has everything, or at the timeout.
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            errors.append(repr(task.exception()))
    for ws in conns:
        await ws.close()
    return {
        "arrivals": arrivals,
        "probes": probes,
        "computed": computed,
        "errors": errors[:5],
        "incomplete": len(pending),
    }


def clients_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard clients")
    parser.add_argument("--ports", required=True)
    parser.add_argument("--sockets", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--updates", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args(argv)
    password = os.environ["BENCH_PASSWORD"]
    ports = [int(p) for p in args.ports.split(",")]
    out = asyncio.run(_clients(ports, args.sockets, args.username, password, args.updates, args.timeout))
    print(RESULT + json.dumps(out), flush=True)
    return 0


# --- The run -------------------------------------------------------------------------


def _all_times(received: list[list[float | None]], sent: list[float]) -> tuple[list[float], list[float], int]:
    """Per update: ms until the last socket had it; every socket's ms; updates some socket never got."""
    last, each, missing = [], [], 0
    for k, t0 in enumerate(sent):
        got = [r[k] for r in received]
        if any(t is None for t in got):
            missing += 1
            continue
        ms = [(t - t0) * 1000 for t in got]
        each.extend(ms)
        last.append(max(ms))
    return last, each, missing


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def run(options: argparse.Namespace, stack: Stack) -> PartResult:
    if options.sockets < 1 or options.updates < 1 or options.gap <= 0:
        raise StackError("--sockets, --updates and --gap must be positive")
    stack.flush_redis()
    env = stack.production_env(database_url=stack.database_url(), redis_url=stack.redis_url())
    stack.fresh_database(env=env)
    password = secrets.token_urlsafe(12)
    seeded = stack.django("bench.dashboard:seed", env=env, password=password)
    ports = [free_port(), free_port()]
    driver_env = {**env, "SWITCHBOARD_BACKGROUND": "thread"}
    # What the clients wait for everything: the rounds' driver processes start, warm up and send.
    budget = options.timeout + ROUNDS * 30 + options.updates * options.gap * 2
    with Processes(prefix="dashboard", log_dir=stack.log_dir) as procs:
        webs = [
            procs.start(
                f"web{i + 1}",
                [str(BIN / "uvicorn"), "config.asgi:application", "--host", HOST, "--port", str(port)]
                + ["--lifespan", "on", "--no-access-log"],
                env={**env, "SWITCHBOARD_EMBEDDED_TICKER": "0"},
            )
            for i, port in enumerate(ports)
        ]
        for port in ports:
            wait_for_http(f"http://{HOST}:{port}/accounts/login/", procs=procs)
        clients = subprocess.Popen(
            [sys.executable, "-m", "bench.dashboard", "clients", "--ports", ",".join(map(str, ports))]
            + ["--sockets", str(options.sockets), "--username", seeded["username"]]
            + ["--updates", str(options.updates), "--timeout", str(budget)],
            cwd=ROOT,
            env={**env, "BENCH_PASSWORD": password},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = clients.stdout.readline()
            if not line.startswith(READY):
                clients.kill()
                raise StackError(f"the client process did not get ready: {line}{clients.stderr.read()[-2000:]}")
            print(f"  {options.sockets} supervisor websockets open on 2 web processes, snapshots read", flush=True)
            stack.settle()
            # Rounds of arrivals then bare sends, so both see the same load
            # on this shared machine; web CPU is read around each call.
            sent, ref_sent = [], []
            cpu_update = cpu_bare = 0.0
            per_round = [options.updates // ROUNDS + (1 if r < options.updates % ROUNDS else 0) for r in range(ROUNDS)]
            for n in (n for n in per_round if n):
                cpu0 = sum(w.cpu_seconds() for w in webs)
                sent += stack.django(
                    "bench.dashboard:arrive", env=driver_env, count=n, gap=options.gap, channel_id=seeded["channel_id"]
                )
                cpu1 = sum(w.cpu_seconds() for w in webs)
                ref_sent += stack.django(
                    "bench.dashboard:bare_sends",
                    env=driver_env,
                    count=n,
                    gap=options.gap,
                    team_id=seeded["team_id"],
                    first=len(ref_sent),
                )
                cpu2 = sum(w.cpu_seconds() for w in webs)
                cpu_update += cpu1 - cpu0
                cpu_bare += cpu2 - cpu1
            out, err = clients.communicate(timeout=budget + 60)
        finally:
            if clients.poll() is None:
                clients.kill()
        procs.check()
    marked = [line for line in out.splitlines() if line.startswith(RESULT)]
    if not marked:
        raise StackError(f"the client process gave no result:\n{err[-2000:]}")
    result = json.loads(marked[-1][len(RESULT) :])
    last, each, missing = _all_times(result["arrivals"], sent)
    ref_last, ref_each, ref_missing = _all_times(result["probes"], ref_sent)
    if not last or not ref_last:
        raise StackError(f"no update reached every socket: {result['errors']}")
    ready = [(c - t0) * 1000 for c, t0 in zip(result["computed"], sent, strict=True) if c is not None]
    p99, ref_p99 = percentile(last, 0.99), percentile(ref_last, 0.99)
    p50, ref_p50 = percentile(last, 0.5), percentile(ref_last, 0.5)
    cpu_update = cpu_update * 1000 / options.updates
    cpu_bare = cpu_bare * 1000 / options.updates
    return PartResult(
        part="dashboard",
        figures=[
            Figure("all_p50_ms", p50, "ms", ref_p50, "bare_all_p50_ms", "p50_ratio"),
            Figure("all_p99_ms", p99, "ms", ref_p99, "bare_all_p99_ms", "ratio"),
            Figure("socket_p99_ms", percentile(each, 0.99), "ms", percentile(ref_each, 0.99), "bare_socket_p99_ms"),
            Figure("web_cpu_ms_per_update", cpu_update, "ms", cpu_bare, "bare_web_cpu_ms_per_send", "cpu_ratio"),
        ],
        notes=[
            f"commit → delta computed and numbered: p50 {_ms(percentile(ready, 0.5))}, "
            f"p99 {_ms(percentile(ready, 0.99))} (the rest is the channel layer and the sockets)",
            f"{options.sockets} sockets, {options.updates} arrivals {options.gap} s apart; "
            f"{missing} arrivals and {ref_missing} bare sends did not reach every socket",
            *(f"client error: {e}" for e in result["errors"]),
        ],
        facts={
            "sockets": options.sockets,
            "updates": options.updates,
            "missing": missing,
            "commit_to_delta_p50_ms": percentile(ready, 0.5),
        },
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "clients":
        sys.exit(clients_main(sys.argv[2:]))
    print("run through the harness: python -m bench dashboard", file=sys.stderr)
    sys.exit(2)
