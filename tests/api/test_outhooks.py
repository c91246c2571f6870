"""Outbound event webhooks: events become deliveries on commit, deliveries
are signed with HMAC-SHA256, retried with backoff, visible to admins — tried
against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Role
from cases.events import CaseCreated, CaseStatusChanged, EscalationRaised
from config import events
from outhooks import services
from outhooks.models import Delivery, Subscription
from routing.events import CaseAssigned
from tests import factories


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the
    next code of ``codes`` (then 200)."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"boom")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def _subscribe(url: str, *names: str, **fields) -> Subscription:
    return Subscription.objects.create(url=url, events=list(names), **fields)


@pytest.mark.django_db
def test_events_become_deliveries_for_matching_active_subscriptions_only():
    wants = _subscribe("http://127.0.0.1:9/a", "case.created", "case.resolved")
    _subscribe("http://127.0.0.1:9/b", "case.assigned")
    _subscribe("http://127.0.0.1:9/c", "case.created", active=False)
    events.dispatch(CaseCreated(case_id=7, customer_id=3))
    events.dispatch(CaseStatusChanged(case_id=7, status="resolved", assignee_id=None, queue_id=None))
    events.dispatch(EscalationRaised(kind="sla_warning", case_id=7, queue_id=None, detail="soon"))
    rows = list(Delivery.objects.order_by("pk").values_list("subscription_id", "event", "payload"))
    assert rows == [
        (wants.pk, "case.created", {"case_id": 7, "customer_id": 3}),
        (wants.pk, "case.resolved", {"case_id": 7, "status": "resolved", "assignee_id": None, "queue_id": None}),
    ]


@pytest.mark.django_db
def test_deliveries_are_made_on_commit_only(django_capture_on_commit_callbacks):
    _subscribe("http://127.0.0.1:9/a", "case.assigned", "sla.breached")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish_on_commit(CaseAssigned(case_id=1, agent_id=2, queue_id=None))
        events.publish_on_commit(EscalationRaised(kind="sla_breach", case_id=1, queue_id=None, detail="late"))
    assert sorted(Delivery.objects.values_list("event", flat=True)) == ["case.assigned", "sla.breached"]
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish_on_commit(CaseAssigned(case_id=9, agent_id=2, queue_id=None))
        raise RuntimeError("rolled back")
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_a_delivery_is_signed_over_its_body(receiver):
    subscription = _subscribe(receiver.url, "case.created", secret="s3cret-s3cret-s3cret")
    (delivery,) = services.enqueue(event="case.created", data={"case_id": 5, "customer_id": 1}, now=timezone.now())
    done = services.deliver(delivery_id=delivery.pk, now=timezone.now())
    assert done.status == Delivery.Status.DELIVERED and done.response_code == 200 and done.attempts == 1
    (request,) = receiver.requests
    body = request["body"]
    expected = "sha256=" + hmac.new(subscription.secret.encode(), body, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Switchboard-Signature"] == expected
    assert request["headers"]["X-Switchboard-Event"] == "case.created"
    assert json.loads(body) == {
        "id": delivery.pk,
        "event": "case.created",
        "created_at": delivery.created_at.isoformat(),
        "data": {"case_id": 5, "customer_id": 1},
    }


@pytest.mark.django_db
def test_a_failed_delivery_is_retried_with_backoff_until_it_is_answered(django_capture_on_commit_callbacks):
    def scan(now) -> int:  # the tick hands due deliveries to workers on commit
        with django_capture_on_commit_callbacks(execute=True):
            return services.deliver_due(now=now)

    with Receiver(codes=[500, 503]) as receiver:
        _subscribe(receiver.url, "case.created")
        now = timezone.now()
        (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=now)
        assert scan(now) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
        assert delivery.response_body == "boom"
        first = delivery.last_attempt_at
        assert delivery.next_attempt_at == first + timedelta(seconds=30)
        assert scan(first + timedelta(seconds=29)) == 0  # not due yet
        scan(first + timedelta(seconds=30))
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.response_code) == (2, 503)
        assert delivery.next_attempt_at == first + timedelta(seconds=30 + 60)  # doubled
        scan(first + timedelta(seconds=90))
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
        assert len(receiver.requests) == 3
        assert scan(now + timedelta(days=1)) == 0  # delivered once, never again


@pytest.mark.django_db
def test_an_unreachable_url_is_retried_then_given_up_and_kept():
    with Receiver() as gone:
        url = gone.url  # a port nobody listens on once the server is closed
    _subscribe(url, "case.created")
    now = timezone.now()
    (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=now)
    for _ in range(services.MAX_ATTEMPTS):
        delivery.refresh_from_db()
        services.deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS
    assert delivery.response_code is None and delivery.error
    assert delivery.next_attempt_at is None


def test_backoff_doubles_up_to_an_hour():
    assert [services.backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


@pytest.mark.django_db
def test_admins_manage_subscriptions_and_see_the_delivery_history(receiver):
    client = APIClient()
    client.force_authenticate(factories.user("root", role=Role.ADMIN))
    created = client.post(
        "/api/v1/webhook-subscriptions/", {"url": receiver.url, "events": ["case.created"]}, format="json"
    )
    assert created.status_code == 201, created.content
    assert len(created.json()["secret"]) >= 16  # generated, shown to the admin
    assert "secret" not in client.get("/api/v1/webhook-subscriptions/").json()[0]
    for bad in ({"url": receiver.url, "events": ["case.exploded"]}, {"url": "ftp://x/", "events": ["case.created"]}):
        assert client.post("/api/v1/webhook-subscriptions/", bad, format="json").status_code == 400
    assert Subscription.objects.count() == 1
    (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=timezone.now())
    services.deliver(delivery_id=delivery.pk, now=timezone.now())
    history = client.get(f"/api/v1/webhook-subscriptions/{created.json()['id']}/deliveries/").json()["results"]
    assert [(d["event"], d["status"], d["response_code"]) for d in history] == [("case.created", "delivered", 200)]


@pytest.mark.postgres
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_several_scanners_at_once_deliver_each_delivery_once():
    from django.db import connections

    with Receiver() as receiver:
        _subscribe(receiver.url, "case.created")
        now = timezone.now()
        made = services.enqueue(event="case.created", data={"case_id": 1}, now=now)
        made += services.enqueue(event="case.created", data={"case_id": 2}, now=now)
        for i in range(3, 21):
            made += services.enqueue(event="case.created", data={"case_id": i}, now=now)
        start = threading.Barrier(4)
        errors = []

        def scan():
            try:
                start.wait()
                services.deliver_due(now=now)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=scan) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        ids = sorted(json.loads(r["body"])["id"] for r in receiver.requests)
        assert ids == sorted(d.pk for d in made)  # each once
        assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db
def test_admins_see_subscriptions_and_the_delivery_history_in_the_admin(admin_client):
    subscription = _subscribe("http://127.0.0.1:9/a", "case.created")
    (delivery,) = services.enqueue(event="case.created", data={"case_id": 1}, now=timezone.now())
    page = admin_client.get("/admin/outhooks/subscription/")
    assert page.status_code == 200 and b"history" in page.content
    history = admin_client.get(f"/admin/outhooks/delivery/?subscription__id__exact={subscription.pk}")
    assert history.status_code == 200 and b"case.created" in history.content
    assert admin_client.get(f"/admin/outhooks/delivery/{delivery.pk}/change/").status_code == 200
    assert admin_client.get("/admin/outhooks/delivery/add/").status_code == 403
