"""/metrics scraped and parsed with prometheus-client's own parser, who may
scrape it, and the presence log fed by the agents app's status changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from agents import services as agent_services
from cases.models import Message
from connectors.models import InboundEvent
from reports.metrics import DECISIONS
from reports.models import StatusSpan
from routing.batch import route_waiting
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db


def samples(body: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client=None, **headers):
    return (client or Client()).get("/metrics", REMOTE_ADDR=headers.pop("addr", "127.0.0.1"), **headers)


def test_metrics_are_scraped_and_parsed(django_capture_on_commit_callbacks):
    queue = factories.queue("Support")
    channel = factories.channel("hooks", default_queue=queue)
    now = timezone.now()
    factories.queued_case(channel, queue=queue, at=now - timedelta(seconds=90))
    factories.queued_case(channel, queue=queue, at=now - timedelta(seconds=30))
    factories.queue("Empty")
    InboundEvent.objects.create(channel=channel, received_at=now, body=b"{}", status="processed")
    InboundEvent.objects.create(channel=channel, received_at=now, body=b"{}", status="failed", dedupe_key="x")
    failed_on = factories.queued_case(channel, queue=queue)
    Message.objects.create(
        case=failed_on, direction="out", channel_kind="api", delivery_status="failed", created_at=now
    )
    before = DECISIONS.labels("offer")._value.get()
    factories.agent("ana", capacity={"api": 1}, total=1)
    with django_capture_on_commit_callbacks(execute=True):
        route_waiting(now=now)
    assert Offer.objects.count() == 1

    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response.content.decode())
    assert found[("switchboard_queue_depth", (("queue", "Support"),))] == 2
    assert found[("switchboard_queue_depth", (("queue", "Empty"),))] == 0
    assert found[("switchboard_queue_oldest_wait_seconds", (("queue", "Support"),))] >= 30
    assert found[("switchboard_offers_total", (("outcome", "pending"),))] == 1
    assert found[("switchboard_offers_total", (("outcome", "declined"),))] == 0
    assert found[("switchboard_inbound_events_total", (("provider", "generic_json"), ("status", "failed")))] == 1
    assert found[("switchboard_inbound_events_total", (("provider", "generic_json"), ("status", "processed")))] == 1
    assert found[("switchboard_outbound_failures_total", (("channel_kind", "api"),))] == 1
    assert found[("switchboard_routing_decisions_total", (("outcome", "offer"),))] == before + 1
    assert found[("switchboard_routing_decision_seconds_count", (("outcome", "offer"),))] >= 1


def test_metrics_need_loopback_or_the_token(settings):
    assert scrape(addr="203.0.113.9").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    refused = scrape(addr="127.0.0.1")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert scrape(addr="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(addr="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert Client().post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_status_changes_are_kept_in_the_presence_log(django_capture_on_commit_callbacks):
    available = factories.status("Available")
    lunch = factories.status("Lunch", kinds=[])
    ana = factories.agent("ana", presence=None)
    t0 = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        agent_services.set_status(agent_id=ana.pk, status_id=available.pk, now=t0)
    with django_capture_on_commit_callbacks(execute=True):
        agent_services.set_status(agent_id=ana.pk, status_id=lunch.pk, now=t0 + timedelta(minutes=50))
    with django_capture_on_commit_callbacks(execute=True):
        agent_services.touch_presence(agent_id=ana.pk, now=t0 + timedelta(minutes=51))  # no status change
    spans = list(StatusSpan.objects.filter(agent=ana).values_list("status_name", "routable", "started_at", "ended_at"))
    assert spans == [
        ("Available", True, t0, t0 + timedelta(minutes=50)),
        ("Lunch", False, t0 + timedelta(minutes=50), None),
    ]


def test_agents_from_before_the_presence_log_get_a_span():
    from reports.aggregate import aggregate_due

    ana = factories.agent("ana")  # created with a status, no AgentChanged published
    assert not StatusSpan.objects.filter(agent=ana).exists()
    aggregate_due(now=timezone.now())
    span = StatusSpan.objects.get(agent=ana)
    assert (span.status_name, span.started_at, span.ended_at) == ("Available", ana.status_since, None)


def test_decisions_add_up_across_processes_in_multiprocess_mode(tmp_path):
    """Two processes count decisions into PROMETHEUS_MULTIPROC_DIR; the
    multiprocess collector (what /metrics uses in that mode) adds them up."""
    import os
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    script = "from reports.metrics import DECISIONS, DECISION_SECONDS; DECISIONS.labels('offer').inc(); "
    script += "DECISION_SECONDS.labels('offer').observe(0.3)"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)  # noqa: S603 (our own code)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    found = samples(generate_latest(registry).decode())
    assert found[("switchboard_routing_decisions_total", (("outcome", "offer"),))] == 2
    assert found[("switchboard_routing_decision_seconds_bucket", (("le", "0.5"), ("outcome", "offer")))] == 2
