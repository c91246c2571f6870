"""/ws/supervisor/ through the real ASGI application: who may connect, the
numbered snapshot, deltas after commits, heartbeats and resync."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client
from django.utils import timezone

from agents.models import Role, Team
from cases.events import EscalationRaised
from config.events import publish_on_commit
from dashboards.streams import heartbeat
from tests import factories
from tests.dashboards.conftest import connect, receive

pytestmark = pytest.mark.django_db(transaction=True)


def world():
    """Two teams with a queue and an agent each; a supervisor of the first."""
    sales, support = Team.objects.create(name="Sales"), Team.objects.create(name="Support")
    q_sales = factories.queue("Sales", team=sales)
    q_support = factories.queue("Support", team=support)
    ana = factories.agent("ana", teams=[sales])
    ben = factories.agent("ben", teams=[support])
    sam = factories.user("sam", role=Role.SUPERVISOR)
    sales.supervisors.add(sam)
    admin = factories.user("root", role=Role.ADMIN)
    channel = factories.channel("sales", default_queue=q_sales)
    return {
        "sam": sam,
        "admin": admin,
        "ana": ana,
        "ben": ben,
        "q_sales": q_sales,
        "q_support": q_support,
        "channel": channel,
    }


async def test_supervisor_gets_a_numbered_snapshot_of_their_teams_only():
    w = await database_sync_to_async(world)()
    ws, connected, code = await connect(w["sam"])
    assert connected, code
    snap = await receive(ws, "snapshot")
    assert [q["name"] for q in snap["queues"]] == ["Sales"]
    assert [a["name"] for a in snap["agents"]] == ["Ana"]
    assert snap["seqs"] == {f"sup.team.{w['q_sales'].team_id}": 0}
    assert snap["queues"][0]["agents_online"] == 1
    # Ana (present, every kind enabled) has room on each kind she has capacity for.
    assert snap["queues"][0]["agents_available"] == {"api": 1, "email": 1, "web_chat": 1}
    assert snap["agents"][0]["capacities"] == {"api": 2, "email": 3, "web_chat": 2}
    await ws.disconnect()


async def test_admin_sees_every_queue_and_agent():
    w = await database_sync_to_async(world)()
    ws, connected, _ = await connect(w["admin"])
    assert connected
    snap = await receive(ws, "snapshot")
    assert {q["name"] for q in snap["queues"]} == {"Sales", "Support"}
    assert {a["name"] for a in snap["agents"]} == {"Ana", "Ben"}
    assert snap["seqs"] == {"sup.admins": 0}
    await ws.disconnect()


async def test_agents_and_anonymous_visitors_are_refused():
    w = await database_sync_to_async(world)()
    ws, connected, code = await connect(w["ana"].user)
    assert (connected, code) == (False, 4403)
    ws, connected, code = await connect(None)
    assert (connected, code) == (False, 4401)


async def test_a_foreign_origin_is_refused():
    w = await database_sync_to_async(world)()
    _, connected, _ = await connect(w["sam"], origin=(b"origin", b"https://evil.example"))
    assert not connected


async def test_a_webhook_case_reaches_the_dashboard_as_a_numbered_delta():
    w = await database_sync_to_async(world)()
    # No agent may take it: it waits in the queue.
    await database_sync_to_async(lambda: w["ana"].__class__.objects.update(present_until=None))()
    ws, _, _ = await connect(w["sam"])
    await receive(ws, "snapshot")
    response = await sync_to_async(factories.post_webhook)(Client(), w["channel"], factories.payload(id="m-1"))
    assert response.status_code == 202
    seen = []
    while not seen or seen[-1]["queues"][0]["waiting"] != 1 if seen and seen[-1]["queues"] else not seen:
        delta = await receive(ws, "delta")
        if delta["queues"]:
            seen.append(delta)
    last = seen[-1]["queues"][0]
    assert last["name"] == "Sales"
    assert last["waiting"] == 1 and last["arrivals_15"] == 1 and last["arrivals_60"] == 1
    assert last["oldest_queued_at"] is not None
    seqs = [d["seq"] for d in seen]
    assert seqs == sorted(seqs) and seqs[0] >= 1
    await ws.disconnect()


async def test_other_teams_changes_do_not_reach_a_supervisor():
    w = await database_sync_to_async(world)()
    ws, _, _ = await connect(w["sam"])
    await receive(ws, "snapshot")

    def change_support():
        from agents import services

        services.set_status(agent_id=w["ben"].pk, status_id=factories.status("Away", []).pk, now=timezone.now())

    await database_sync_to_async(change_support)()
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_escalations_reach_the_feed_only_after_commit():
    w = await database_sync_to_async(world)()
    ws, _, _ = await connect(w["sam"])
    await receive(ws, "snapshot")
    queue_id = w["q_sales"].pk

    def rolled_back():
        try:
            with transaction.atomic():
                publish_on_commit(EscalationRaised(kind="sla_breach", case_id=None, queue_id=queue_id, detail="gone"))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    def committed():
        with transaction.atomic():
            publish_on_commit(
                EscalationRaised(kind="sla_warning", case_id=None, queue_id=queue_id, detail="Due in 5 min")
            )

    await database_sync_to_async(rolled_back)()
    assert await ws.receive_nothing(timeout=0.3)
    await database_sync_to_async(committed)()
    delta = await receive(ws, "delta")
    assert [(e["kind"], e["detail"]) for e in delta["escalations"]] == [("sla_warning", "Due in 5 min")]
    # A new socket finds it in the snapshot's feed.
    ws2, _, _ = await connect(w["sam"])
    snap = await receive(ws2, "snapshot")
    assert [e["kind"] for e in snap["escalations"]] == ["sla_warning"]
    await ws.disconnect()
    await ws2.disconnect()


async def test_heartbeat_carries_the_sequence_so_a_missed_delta_is_seen_and_resynced():
    from dashboards.streams import sequences

    w = await database_sync_to_async(world)()
    ws, _, _ = await connect(w["sam"])
    snap = await receive(ws, "snapshot")
    group = next(iter(snap["seqs"]))
    # A delta lost on the way (Redis away): the number moved, nothing arrived.
    await sync_to_async(sequences.next)(group)
    await heartbeat.beat()
    beat = await receive(ws, "heartbeat")
    assert beat["stream"] == group and beat["seq"] == snap["seqs"][group] + 1
    # The client sees it is behind and asks again: a fresh numbered snapshot.
    await ws.send_json_to({"type": "resync"})
    fresh = await receive(ws, "snapshot")
    assert fresh["seqs"][group] == beat["seq"]
    assert [q["name"] for q in fresh["queues"]] == ["Sales"]
    await ws.disconnect()


async def forget_group(group: str) -> None:
    """What a Redis restart does to the channel layer's group memberships."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if hasattr(layer, "_group_key"):  # channels-redis
        connection = layer.connection(layer.consistent_hash(group))
        await connection.delete(layer._group_key(group))
    else:
        layer.groups.pop(group, None)


async def test_resync_rejoins_groups_lost_with_redis():
    w = await database_sync_to_async(world)()
    ws, _, _ = await connect(w["sam"])
    snap = await receive(ws, "snapshot")
    group = next(iter(snap["seqs"]))
    # Redis came back empty: the socket's membership is gone.
    await forget_group(group)
    await heartbeat.beat()
    assert await ws.receive_nothing(timeout=0.3)  # silence: the page turns "stale" and resyncs
    await ws.send_json_to({"type": "resync"})
    await receive(ws, "snapshot")
    await heartbeat.beat()
    assert (await receive(ws, "heartbeat"))["stream"] == group
    await ws.disconnect()


async def test_unknown_request_gets_an_error():
    w = await database_sync_to_async(world)()
    ws, _, _ = await connect(w["sam"])
    await receive(ws, "snapshot")
    await ws.send_json_to({"type": "drop tables"})
    assert "unknown request" in (await receive(ws, "error"))["detail"]
    await ws.disconnect()


async def test_with_no_supervisor_watching_a_commit_costs_the_dashboards_no_query_and_no_send():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboards import streams

    w = await database_sync_to_async(world)()
    sent = []
    original = streams._send
    streams._send = sent.append
    try:

        def publish_counting() -> int:
            case = factories.queued_case(w["channel"], queue=w["q_sales"])
            with CaptureQueriesContext(connection) as queries:
                streams._publish(_dirty(queues=[w["q_sales"].pk], cases=[case.pk]))
            return len(queries)

        assert await database_sync_to_async(publish_counting)() == 0
        assert sent == []
        # Somebody watches the team's group (another process's supervisor):
        # the same change is computed and sent to that group only.
        group = f"sup.team.{w['q_sales'].team_id}"
        await sync_to_async(streams.watchers.join)([group])
        assert await database_sync_to_async(publish_counting)() > 0
        assert [g for batch in sent for g, _ in batch] == [group]
        await sync_to_async(streams.watchers.leave)([group])
        sent.clear()
        assert await database_sync_to_async(publish_counting)() == 0
        assert sent == []
    finally:
        streams._send = original


def _dirty(**marks):
    from dashboards.streams import Dirty

    dirty = Dirty()
    for name, ids in marks.items():
        getattr(dirty, name).update(ids)
    return dirty
