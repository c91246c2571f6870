"""The router's many-rows INSERT: every column as given (JSON included),
the new keys mapped back, on PostgreSQL (unnest) as on SQLite (the ORM)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent
from routing import bulk
from routing.models import Offer
from tests import factories

pytestmark = pytest.mark.django_db


def test_rows_go_in_whole_and_their_keys_come_back():
    now = timezone.now()
    chan = factories.channel("web", default_queue=factories.queue("General"))
    ana = factories.agent("ana")
    cases = [factories.queued_case(chan) for _ in range(3)]
    rows = [
        (c.pk, ana.pk, "api", "pending", now, now + timedelta(seconds=60), None, "", 1 + i, i == 2)
        for i, c in enumerate(cases)
    ]
    ids = bulk.insert(
        Offer,
        (
            "case_id",
            "agent_id",
            "channel_kind",
            "status",
            "created_at",
            "expires_at",
            "responded_at",
            "decline_reason",
            "units",
            "may_interrupt",
        ),
        rows,
        key="case_id",
    )
    assert set(ids) == {c.pk for c in cases}
    for i, case in enumerate(cases):
        offer = Offer.objects.get(pk=ids[case.pk])
        assert (offer.case_id, offer.agent_id, offer.units, offer.may_interrupt) == (case.pk, ana.pk, 1 + i, i == 2)
        assert offer.expires_at == now + timedelta(seconds=60) and offer.responded_at is None

    bulk.insert(
        CaseEvent,
        ("case_id", "kind", "agent_id", "actor_id", "data", "created_at"),
        [(cases[0].pk, "offered", ana.pk, None, {"offer_id": ids[cases[0].pk], "why": ["ñ", 1.5, None]}, now)],
    )
    event = CaseEvent.objects.get(case=cases[0], kind="offered")
    assert event.data == {"offer_id": ids[cases[0].pk], "why": ["ñ", 1.5, None]}
    assert bulk.insert(CaseEvent, ("case_id",), []) == {}


def _written(case_ids: list[int]) -> dict:
    """What a routed batch wrote, with offer ids replaced by their case ids."""
    from agents.models import Agent
    from cases.models import Case
    from routing.models import Explanation

    offers = {o.pk: o.case_id for o in Offer.objects.filter(case_id__in=case_ids)}
    return {
        "offers": sorted(
            Offer.objects.filter(case_id__in=case_ids).values_list(
                "case_id", "agent_id", "channel_kind", "status", "expires_at", "responded_at", "units"
            )
        ),
        "cases": sorted(
            Case.objects.filter(pk__in=case_ids).values_list(
                "pk", "status", "assignee_id", "first_offered_at", "first_assigned_at", "updated_at"
            )
        ),
        "events": sorted(
            (e.case_id, e.kind, e.agent_id, {k: offers.get(v, v) if k == "offer_id" else v for k, v in e.data.items()})
            for e in CaseEvent.objects.filter(case_id__in=case_ids, kind__in=["offered", "assigned"])
        ),
        "explanations": sorted(
            (offers[x.offer_id], x.data["agent"], x.data["decided_by"])
            for x in Explanation.objects.filter(offer_id__in=offers)
        ),
        "agents": sorted(Agent.objects.values_list("pk", "last_routed_at", "idle_since")),
    }


@pytest.mark.postgres
def test_on_postgresql_a_batch_is_written_in_one_statement_with_what_the_orm_path_writes(monkeypatch):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from routing import batch
    from routing.batch import route_batch
    from routing.pool import planning

    now = timezone.now()
    chat = factories.channel("web", kind="web_chat", default_queue=factories.queue("Chat"))
    api = factories.channel("api", kind="api", default_queue=factories.queue("Back office", auto_accept=True))
    for name in ("ana", "ben", "eva"):
        factories.agent(name, capacity={"api": 3, "web_chat": 3}, total=6)
    from agents.models import Agent

    Agent.objects.update(idle_since=now - timedelta(minutes=5))
    cases = [factories.queued_case(chat) for _ in range(3)] + [factories.queued_case(api) for _ in range(2)]
    ids = [c.pk for c in cases]

    def route() -> tuple[dict, list[str]]:
        planning.clear()
        with CaptureQueriesContext(connection) as captured:
            result = route_batch(now=now, limit=50)
        assert len(result.routed) == 5
        return _written(ids), [q["sql"] for q in captured.captured_queries]

    class Rolled(Exception):
        pass

    outcomes = []
    for vendor in ("postgresql", "sqlite"):
        try:
            with transaction.atomic():
                if vendor == "sqlite":  # the ORM path's writes, on the same database
                    monkeypatch.setattr(batch, "connection", type("C", (), {"vendor": "sqlite"})())
                outcomes.append(route())
                raise Rolled
        except Rolled:
            pass
    (one_statement, one_statement_sql), (orm, orm_sql) = outcomes
    assert one_statement == orm
    writes = [sql for sql in one_statement_sql if sql.lstrip().startswith(("INSERT", "UPDATE", "WITH"))]
    assert len(writes) == 1 and writes[0].lstrip().startswith("WITH")  # one statement writes the batch
    assert len([sql for sql in orm_sql if sql.lstrip().startswith(("INSERT", "UPDATE"))]) >= 5
    statuses = [status for _, status, *_ in one_statement["cases"]]
    assert statuses.count("offered") == 3 and statuses.count("assigned") == 2
    assert all(
        data.get("offer_id") == case_id for case_id, kind, _, data in one_statement["events"] if kind == "offered"
    )
    assert len(one_statement["explanations"]) == 5
    assert {idle for _, routed, idle in one_statement["agents"] if routed == now} <= {None, now - timedelta(minutes=5)}


def test_route_case_returns_what_it_wrote():
    """The offer (or case, where the queue assigns at once) that route_case
    returns is built from the values the batch wrote, not read back: it
    must be what the database holds."""
    from django.forms.models import model_to_dict

    from cases.models import Case
    from routing.batch import route_case

    now = timezone.now()
    chat = factories.channel("web", kind="web_chat", default_queue=factories.queue("Chat"))
    api = factories.channel("api", kind="api", default_queue=factories.queue("Back office", auto_accept=True))
    factories.agent("ana", capacity={"api": 3, "web_chat": 3}, total=6)
    offered, assigned = factories.queued_case(chat, units=2), factories.queued_case(api)

    offer = route_case(case_id=offered.pk, now=now)
    assert isinstance(offer, Offer) and offer.pk is not None
    assert model_to_dict(offer) == model_to_dict(Offer.objects.get(pk=offer.pk))
    assert offer.case.pk == offered.pk and offer.case.status == "offered" and offer.case.subject == offered.subject

    case = route_case(case_id=assigned.pk, now=now)
    assert isinstance(case, Case)
    fresh = Case.objects.get(pk=assigned.pk)
    assert (case.status, case.assignee_id, case.first_assigned_at, case.updated_at) == (
        "assigned",
        fresh.assignee_id,
        now,
        fresh.updated_at,
    )
    assert model_to_dict(case) == model_to_dict(fresh)
