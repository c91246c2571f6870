"""Merges at once on PostgreSQL (each in its own thread and connection):
crossing merges (A into B while B into A) never both happen nor deadlock, and
a handoff retried at once makes one case."""

from __future__ import annotations

import json
import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Role
from cases import customers
from cases.models import Case, Customer, CustomerMerge, Identity, Message
from config.api import DomainError
from connectors.models import Channel
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _at_once(calls) -> tuple[list, list[Exception]]:
    barrier = threading.Barrier(len(calls))
    results, errors, lock = [], [], threading.Lock()

    def run(call):
        try:
            barrier.wait(timeout=10)
            out = call()
            with lock:
                results.append(out)
        except Exception as exc:  # collected and checked below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_crossing_merges_let_exactly_one_happen():
    assert connection.vendor == "postgresql"
    pairs = []
    for i in range(4):
        a = Customer.objects.create(display_name=f"A{i}")
        b = Customer.objects.create(display_name=f"B{i}")
        Identity.objects.create(customer=a, kind="email", address=f"a{i}@example.com")
        Identity.objects.create(customer=b, kind="email", address=f"b{i}@example.com")
        pairs.append((a.pk, b.pk))

    for a, b in pairs:
        results, errors = _at_once(
            [
                lambda a=a, b=b: customers.merge_customers(source_id=a, target_id=b, now=timezone.now()),
                lambda a=a, b=b: customers.merge_customers(source_id=b, target_id=a, now=timezone.now()),
            ]
        )
        assert len(results) == 1, errors
        assert len(errors) == 1 and isinstance(errors[0], DomainError), errors
        merge = results[0]
        assert Identity.objects.filter(customer_id=merge.target_id).count() == 2
        assert Customer.objects.get(pk=merge.source_id).merged_into_id == merge.target_id
        assert Customer.objects.get(pk=merge.target_id).merged_into_id is None
    assert CustomerMerge.objects.count() == 4


def test_handoff_posted_several_times_at_once_makes_one_case():
    Channel.objects.create(key="bot", name="Bot", kind="web_chat", provider="bot_handoff")
    user = factories.user("bot-platform", role=Role.AGENT)
    user.user_permissions.add(Permission.objects.get(codename="add_case", content_type__app_label="cases"))
    token = Token.objects.create(user=user).key
    body = json.dumps(
        {
            "channel": "bot",
            "conversation_id": "c-1",
            "customer": {"kind": "email", "address": "ana@example.com"},
            "transcript": [{"from": "customer", "text": "help"}, {"from": "bot", "text": "one moment"}],
            "reason": "asked for a person",
        }
    )

    def post():
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post("/api/v1/handoffs/", data=body, content_type="application/json").status_code

    statuses, errors = _at_once([post] * 6)

    assert not errors, errors
    assert sorted(statuses) == [200] * 5 + [201]
    assert Case.objects.count() == 1
    assert Message.objects.count() == 2
