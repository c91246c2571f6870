"""ingest: webhooks accepted per second and turned into cases per second.

Production mode on PostgreSQL and Redis: uvicorn serves the webhooks (one
process), a Celery worker normalizes each stored event into a case. Closed
loop: ``--clients`` threads each POST over a kept-alive connection as fast as
answers come back, ``--requests`` deliveries in all, round-robin over a mix
of providers in their real shapes and signatures (``--providers``; default:
the generic JSON hook, Twilio SMS, Meta WhatsApp and Telegram, see
``bench.providers``). One delivery in ten (``--duplicates``) is a
redelivery of a message sent earlier, as providers do on a timeout.

The reference is a no-op Django view on the same server (``POST
/bench/noop/``, see ``bench.ingest_site``), measured in the same run right
before and after the webhooks (their mean), with the same clients and bodies.
``ratio`` is accepted webhooks per second over no-op answers per second
(target ≥ 0.5). Each provider's own rate and answer times are printed too.

The Celery worker starts once the webhooks are sent (``--worker-during`` to
run it meanwhile): on a production deployment workers run on machines of
their own, not on the web server's CPUs. Cases per second: cases ÷ (last
case created − first case created), read from the database once the worker
has drained. The run fails if any message is stored twice or lost.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter

from bench.providers import PROVIDERS, Mix, seed_channels
from bench.results import Figure, PartResult, percentile
from bench.stack import BIN, Processes, Stack, StackError, free_port, wait_for_http
from bench.web import Poster

TITLE = (
    "webhooks of four providers accepted and turned into cases per second (10% duplicates) "
    "vs a no-op view on the same server"
)

HOST = "127.0.0.1"
WORKER_QUEUES = "ingest,routing,outbound,celery"
DATABASE = "switchboard_bench_ingest"
REDIS_DB = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests", type=int, default=800, help="webhook deliveries, redeliveries included (default 800)"
    )
    parser.add_argument(
        "--noop-requests", type=int, default=800, help="no-op requests, before and after the webhooks (default 800)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of redeliveries (default 0.10)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument(
        "--worker-during",
        action="store_true",
        help="run the Celery worker during the webhooks too (default: it starts after them, as workers on "
        "other machines would not take the web server's CPU)",
    )
    parser.add_argument(
        "--providers",
        default=",".join(PROVIDERS),
        help=f"comma-separated providers to mix, round-robin (default {','.join(PROVIDERS)})",
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for every case (300)")


# --- Inside Django (run through bench.in_django) ---------------------------------------


def seed(providers: list[str]) -> dict:
    return seed_channels(queue_name="Bench ingest", providers=providers)


def counts() -> dict:
    """What the database holds: events by status, messages, cases, and the
    span from the first case created to the last."""
    from django.db.models import Count, Max, Min

    from cases.models import Case, Message
    from connectors.models import InboundEvent

    events = dict(InboundEvent.objects.order_by().values_list("status").annotate(n=Count("id")))
    span = Case.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    duplicate_keys = InboundEvent.objects.values("dedupe_key").annotate(n=Count("id")).filter(n__gt=1).count()
    duplicate_messages = Message.objects.values("provider_message_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "events": events,
        "messages": Message.objects.count(),
        "cases": Case.objects.count(),
        "duplicate_event_keys": duplicate_keys,
        "duplicate_messages": duplicate_messages,
        "seconds_of_cases": (span["last"] - span["first"]).total_seconds() if span["first"] else None,
    }


# --- In the bench process -------------------------------------------------------------


class _Load:
    """Closed-loop POSTs from ``clients`` threads: the deliveries of ``mix``
    (or of the no-op view, with ``path``), with ``duplicates`` of them
    redeliveries of one sent before."""

    def __init__(self, poster: Poster, mix: Mix, duplicates: float, *, path: str | None = None) -> None:
        self.poster, self.mix, self.duplicates, self.path = poster, mix, duplicates, path
        self.lock = threading.Lock()
        self.sent: list[int] = []  # delivery numbers sent (first deliveries)
        self.statuses: Counter = Counter()
        self.by_provider: dict[str, Counter] = {}
        self.answer_ms: dict[str, list[float]] = {}
        self.counter = 0

    def _next(self, rng: random.Random) -> int:
        with self.lock:
            if self.sent and rng.random() < self.duplicates:
                return rng.choice(self.sent)
            n = self.counter
            self.counter += 1
            self.sent.append(n)
            return n

    def run(self, clients: int, *, requests: int | None = None, seconds: float | None = None) -> float:
        stop_at = time.perf_counter() + seconds if seconds else float("inf")
        threads = []
        budget = [requests if requests is not None else float("inf")]

        def take() -> bool:
            with self.lock:
                if budget[0] <= 0:
                    return False
                budget[0] -= 1
                return True

        def client(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < stop_at and take():
                delivery = self.mix.delivery(self._next(rng))
                answer = self.poster.post(self.path or delivery.path, delivery.body, delivery.headers)
                with self.lock:
                    self.statuses[answer.status] += 1
                    self.by_provider.setdefault(delivery.provider, Counter())[answer.status] += 1
                    self.answer_ms.setdefault(delivery.provider, []).append(
                        1000 * (answer.answered_at - answer.sent_at)
                    )

        started = time.perf_counter()
        for n in range(clients):
            thread = threading.Thread(target=client, args=(n,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def all_answer_ms(self) -> list[float]:
        return [ms for values in self.answer_ms.values() for ms in values]


def run(options: argparse.Namespace, stack: Stack) -> PartResult:
    if options.requests < 1 or options.noop_requests < 1 or options.clients < 1:
        raise StackError("--requests, --noop-requests and --clients must be positive")
    if not 0 <= options.duplicates < 1:
        raise StackError("--duplicates is a share between 0 and 1")
    providers = [p.strip() for p in options.providers.split(",") if p.strip()]
    try:
        Mix(providers)
    except ValueError as exc:
        raise StackError(f"--providers: {exc}") from None
    # A database and Redis db of its own, so other parts running meanwhile
    # (they share switchboard_bench) neither drop its rows nor flush its tasks.
    stack.flush_redis(REDIS_DB)
    env = stack.production_env(database_url=stack.database_url(DATABASE), redis_url=stack.redis_url(REDIS_DB))
    stack.fresh_database(DATABASE, env=env)
    stack.django("bench.ingest:seed", env=env, providers=providers)
    web_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.ingest_site"}
    port = free_port()
    with Processes(prefix="ingest", log_dir=stack.log_dir) as procs:
        procs.start(
            "web",
            [str(BIN / "uvicorn"), "config.asgi:application", "--host", HOST, "--port", str(port)]
            + ["--lifespan", "on", "--no-access-log"],
            env=web_env,
        )

        def start_worker() -> None:
            procs.start(
                "worker",
                [str(BIN / "celery"), "-A", "config", "worker", "-Q", WORKER_QUEUES, "-n", "bench-ingest@%h"]
                + ["--concurrency", str(options.worker_concurrency), "--loglevel", "warning"]
                + ["--without-gossip", "--without-mingle"],
                env=env,
            )

        if options.worker_during:
            start_worker()
        wait_for_http(f"http://{HOST}:{port}/accounts/login/", procs=procs)
        stack.settle()
        poster = Poster(HOST, port, threads=options.clients)
        try:
            # Warm both paths up (imports, connections), not counted.
            noop = "/bench/noop/"
            _Load(poster, Mix(providers, run="warm-noop"), 0, path=noop).run(min(4, options.clients), seconds=1.0)
            warm = _Load(poster, Mix(providers, run="warm"), 0)
            warm.run(min(4, options.clients), seconds=1.0)

            noop_before = _Load(poster, Mix(providers, run="noop-a"), options.duplicates, path=noop)
            noop_before_s = noop_before.run(options.clients, requests=options.noop_requests)
            hooks = _Load(poster, Mix(providers, run="m"), options.duplicates)
            hooks_s = hooks.run(options.clients, requests=options.requests)
            noop_after = _Load(poster, Mix(providers, run="noop-b"), options.duplicates, path=noop)
            noop_after_s = noop_after.run(options.clients, requests=options.noop_requests)
        finally:
            poster.close()
        procs.check()
        # The worker starts now (or started with the web server, --worker-during):
        # webhooks were accepted into the broker; cases are made from here.
        if not options.worker_during:
            start_worker()

        deadline = time.monotonic() + options.drain_timeout
        while True:
            state = stack.django("bench.ingest:counts", env=env)
            stored = sum(state["events"].values())
            if stored and state["events"].get("received", 0) == 0 and state["cases"] >= state["messages"]:
                break
            if time.monotonic() > deadline:
                raise StackError(f"the worker did not drain within {options.drain_timeout:.0f} s: {state}")
            procs.check()
            time.sleep(1.0)

    noop_rate = (
        sum(noop_before.statuses.values()) / noop_before_s + sum(noop_after.statuses.values()) / noop_after_s
    ) / 2
    accepted = hooks.statuses[202] + hooks.statuses[200]
    accepted_rate = accepted / hooks_s
    errors = sum(n for status, n in hooks.statuses.items() if status not in (200, 202))
    # Every unique message sent (run and warm-up) must be stored once: one
    # event per unique id, one message per event, one case per message.
    unique_sent = len(hooks.sent) + len(warm.sent)
    stored_events = sum(state["events"].values())
    lost = unique_sent - state["messages"]
    seconds = state["seconds_of_cases"]
    cases_rate = (state["cases"] - 1) / seconds if seconds else None
    failed = None
    if state["duplicate_event_keys"] or state["duplicate_messages"] or stored_events != unique_sent:
        failed = (
            f"stored twice: {state['duplicate_event_keys']} event keys, {state['duplicate_messages']} messages, "
            f"{stored_events} events for {unique_sent} unique ids"
        )
    elif lost or state["events"].get("failed"):
        failed = f"lost: {lost} events without a message, {state['events'].get('failed', 0)} failed"
    elif errors:
        failed = f"{errors} webhook answers were errors: {dict(hooks.statuses)}"

    result = PartResult(
        part="ingest",
        figures=[
            Figure(
                "accepted_per_s",
                accepted_rate,
                "webhooks/s",
                reference=noop_rate,
                reference_key="noop_reference_per_s",
                ratio_key="ratio",
            ),
            Figure("cases_per_s", cases_rate, "cases/s"),
            Figure("duplicates_stored", state["duplicate_event_keys"] + state["duplicate_messages"], "rows"),
            Figure("lost", lost, "messages"),
            Figure("webhook_answer_p50_ms", percentile(hooks.all_answer_ms(), 0.5), "ms"),
            Figure("webhook_answer_p99_ms", percentile(hooks.all_answer_ms(), 0.99), "ms"),
        ],
        facts={
            "webhooks_sent": sum(hooks.statuses.values()),
            "unique_messages": len(hooks.sent),
            "redeliveries_answered_200": hooks.statuses[200],
            "cases": state["cases"],
            "clients": options.clients,
            "seconds_of_webhooks": hooks_s,
            "duplicate_share": options.duplicates,
            "worker_concurrency": options.worker_concurrency,
            "noop_before_per_s": sum(noop_before.statuses.values()) / noop_before_s,
            "noop_after_per_s": sum(noop_after.statuses.values()) / noop_after_s,
            "providers": ",".join(providers),
        },
        failed=failed,
    )
    result.notes.append(
        f"{sum(hooks.statuses.values())} webhooks ({len(hooks.sent)} unique, {hooks.statuses[200]} redeliveries "
        f"answered 200) from {options.clients} clients over {hooks_s:.1f} s; uvicorn ×1 + Celery worker "
        f"×{options.worker_concurrency}; PostgreSQL + Redis; DEBUG=0"
    )
    for provider in providers:
        answered = hooks.by_provider.get(provider, Counter())
        ms = hooks.answer_ms.get(provider, [])
        result.notes.append(
            f"{provider}: {sum(answered.values())} webhooks, answers {dict(answered)}, "
            f"p50 {percentile(ms, 0.5) or 0:.1f} ms, p99 {percentile(ms, 0.99) or 0:.1f} ms"
        )
    result.notes.append(
        f"ratio {accepted_rate / noop_rate:.2f} of the no-op view's {noop_rate:.0f}/s on the same server "
        "(target ≥ 0.5); cases/s from the first case created to the last; the worker "
        + ("ran during the webhooks" if options.worker_during else "started after the webhooks")
    )
    return result
