"""``/metrics`` for Prometheus (prometheus-client).

Several processes serve and route in production (web, Celery workers,
beat), so where each number lives decides how it stays right:

- Everything the database knows is read from it at scrape time by a custom
  collector: queue depth and the oldest wait per queue (gauges), offers by
  outcome, inbound events by provider and status, outbound failures by
  channel kind (counters: the count of rows in that state, so they are the
  same whichever process answers the scrape, and survive restarts; a row
  deleted by the retention purge looks like a counter reset to Prometheus).
- The router's decisions and their latency happen in whichever worker ran
  the router; the process hears them as events (``OfferCreated``,
  ``CaseAssigned``) and counts them in a Counter and a Histogram. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (a directory shared by the processes of
  one machine, emptied before they start) prometheus-client's multiprocess
  mode adds up every process's values; without it (embedded mode, one
  process) the process's own values are served.

Access: with ``METRICS_TOKEN`` set, a request needs ``Authorization: Bearer
<token>``; without it, only loopback addresses are answered.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PROCESS = CollectorRegistry(auto_describe=True)
DECISIONS = Counter(
    "switchboard_routing_decisions",
    "Routing decisions: an offer made, or a case assigned (auto-accept, accepted offer, supervisor).",
    ["outcome"],
    registry=PROCESS,
)
DECISION_SECONDS = Histogram(
    "switchboard_routing_decision_seconds",
    "From the case starting to wait in its queue to the decision (offer or assignment).",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=PROCESS,
)


def _observe(outcome: str, batch, now: datetime) -> None:
    """Count a batch of decisions and how long each case had waited: from the
    event (the router sends it), or read for the events that lack it."""
    from cases.models import Case

    waited = {e.case_id: e.queued_at for e in batch if e.queued_at is not None}
    missing = [e.case_id for e in batch if e.queued_at is None]
    if missing:
        waited.update(Case.objects.filter(pk__in=missing).values_list("pk", "queued_at"))
    DECISIONS.labels(outcome).inc(len(batch))
    seconds = DECISION_SECONDS.labels(outcome)
    for event in batch:
        since = waited.get(event.case_id)
        if since is not None:
            seconds.observe(max(0.0, (now - since).total_seconds()))


def count_offers_made(batch) -> None:
    _observe("offer", batch, timezone.now())


def count_assignments(batch) -> None:
    _observe("assignment", batch, timezone.now())


class DatabaseCollector(Collector):
    """Gauges and counters read from the database at scrape time."""

    def collect(self):
        from cases.models import Case, CaseStatus, Message
        from connectors.models import Channel, InboundEvent
        from routing.models import Offer, Queue

        now = timezone.now()
        depth = GaugeMetricFamily("switchboard_queue_depth", "Cases waiting for an agent.", labels=["queue"])
        wait = GaugeMetricFamily(
            "switchboard_queue_oldest_wait_seconds", "How long the longest-waiting case has waited.", labels=["queue"]
        )
        waiting = {
            row["queue_id"]: row
            for row in Case.objects.filter(status=CaseStatus.QUEUED)
            .values("queue_id")
            .annotate(n=Count("pk"), oldest=Min("queued_at"))
            .order_by()
        }
        names = dict(Queue.objects.values_list("pk", "name"))
        for queue_id in sorted(set(names) | set(waiting), key=lambda q: (q is None, q or 0)):
            label = names.get(queue_id, "(no queue)")
            row = waiting.get(queue_id, {"n": 0, "oldest": None})
            depth.add_metric([label], row["n"])
            wait.add_metric([label], (now - row["oldest"]).total_seconds() if row["oldest"] else 0)
        yield depth
        yield wait

        offers = CounterMetricFamily("switchboard_offers", "Offers by outcome.", labels=["outcome"])
        counted = dict(Offer.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Offer.Status.values:
            offers.add_metric([status], counted.get(status, 0))
        yield offers

        inbound = CounterMetricFamily(
            "switchboard_inbound_events", "Inbound events by provider and status.", labels=["provider", "status"]
        )
        providers = dict(Channel.objects.values_list("pk", "provider"))
        totals: dict[tuple[str, str], int] = {}
        for channel_id, status, n in (
            InboundEvent.objects.values_list("channel_id", "status").annotate(n=Count("pk")).order_by()
        ):
            key = (providers.get(channel_id, "unknown"), status)
            totals[key] = totals.get(key, 0) + n
        for (provider, status), n in sorted(totals.items()):
            inbound.add_metric([provider, status], n)
        yield inbound

        failed = CounterMetricFamily(
            "switchboard_outbound_failures", "Outbound messages that failed, by channel kind.", labels=["channel_kind"]
        )
        rows = Message.objects.filter(direction=Message.Direction.OUTBOUND, delivery_status=Message.Delivery.FAILED)
        for kind, n in rows.values_list("channel_kind").annotate(n=Count("pk")).order_by("channel_kind"):
            failed.add_metric([kind], n)
        yield failed


class _ThisProcess(Collector):
    def collect(self):
        return PROCESS.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    return generate_latest(registry)


def _allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse("GET only\n", status=405, content_type="text/plain", headers={"Allow": "GET"})
    if not _allowed(request):
        detail = "a bearer token (METRICS_TOKEN) is required" if getattr(settings, "METRICS_TOKEN", "") else ""
        return HttpResponse(
            (detail or "metrics are served to loopback addresses only (set METRICS_TOKEN)") + "\n",
            status=401 if detail else 403,
            content_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"} if detail else {},
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
