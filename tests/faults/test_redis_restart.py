"""Redis (broker, channel layer, cache) killed and started again empty:
webhooks are still stored — the database is the source of truth — and each
answered 2xx is processed once Redis is back; routing resumes; a
supervisor's dashboard resyncs and gets live deltas again."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.web import login
from tests.faults.stack import message, wait_until

pytestmark = pytest.mark.postgres


def _supervisor_socket(stack):
    cookie = login("127.0.0.1", stack.port, username="boss", password=stack.world["password"])
    origin = f"http://127.0.0.1:{stack.port}"
    return connect(f"ws://127.0.0.1:{stack.port}/ws/supervisor/", origin=origin, additional_headers={"Cookie": cookie})


def _next(ws, kind: str, *, timeout: float = 20, where=lambda message: True) -> dict:
    """The next message of ``kind`` for which ``where`` holds (heartbeats and the rest skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no such {kind} message within {timeout:g} s"
        try:
            got = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if got.get("type") == kind and where(got):
            return got


def _queue(snapshot_or_delta: dict) -> dict:
    rows = [q for q in snapshot_or_delta["queues"] if q["name"] == "Faults"]
    return rows[0] if rows else {}


def _offers(stack) -> int:
    return stack.count("SELECT count(*) FROM routing_offer")


def _resynced(stack, ws, exits):
    """What supervisor.js does after Redis came back: ask for a fresh
    snapshot, or, when the server closed the socket, reconnect with a
    pause between tries. Returns the socket and its snapshot."""
    try:
        ws.send(json.dumps({"type": "resync"}))
        return ws, _next(ws, "snapshot")
    except ConnectionClosed:
        pass
    for _ in range(5):
        try:
            ws = exits.enter_context(_supervisor_socket(stack))
            return ws, _next(ws, "snapshot")
        except ConnectionClosed:
            time.sleep(1)
    raise AssertionError(f"the supervisor socket did not come back after Redis did\n{stack.logs()}")


def test_redis_restart_loses_nothing_and_dashboards_resync(fault_stack):
    with contextlib.ExitStack() as exits:
        _redis_restart(fault_stack, exits)


def _redis_restart(stack, exits):
    stack.seed(agents=1)
    stack.web()
    stack.worker("worker")
    stack.beat()
    ws = exits.enter_context(_supervisor_socket(stack))
    assert _queue(_next(ws, "snapshot"))["offered"] == 0

    assert stack.post(message(1))[0] == 202
    wait_until(lambda: _offers(stack) == 1, timeout=30, what="the first webhook was not routed", stack=stack)

    stack.redis.kill()
    answers = {n: stack.post(message(n)) for n in range(2, 7)}
    for status, answer in answers.values():
        assert status in (202, 503), answer  # stored, or a clear "try again" (the provider retries)
    acknowledged = [n for n, (status, _) in answers.items() if status == 202]
    stored = {key for (key,) in stack.sql("SELECT dedupe_key FROM connectors_inboundevent")}
    assert {f"m-{n}" for n in acknowledged} <= stored

    stack.redis.start()  # empty: no task messages, no group memberships, no counters
    for n in set(answers) - set(acknowledged):
        assert stack.post(message(n))[0] == 202  # the provider's retry
    wait_until(
        lambda: _offers(stack) == 6, timeout=40, what="routing did not resume after Redis came back", stack=stack
    )
    assert stack.sql("SELECT status, count(*) FROM connectors_inboundevent GROUP BY status") == [("processed", 6)]
    assert stack.sql("SELECT status, count(*) FROM cases_case GROUP BY status") == [("offered", 6)]

    ws, fresh = _resynced(stack, ws, exits)
    assert _queue(fresh)["offered"] == 6  # what happened while Redis was away
    assert stack.post(message(7))[0] == 202
    live = _next(ws, "delta", where=lambda delta: _queue(delta).get("arrivals_15") == 7)
    assert live["seq"] > fresh["seqs"][live["stream"]]
