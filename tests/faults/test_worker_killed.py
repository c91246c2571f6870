"""A Celery worker killed (SIGKILL, pool and all) in the middle of a task,
with its writes made but not committed: nothing is lost or stuck — another
worker and the periodic scan (beat's tick) finish the work, once."""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.stack import message, wait_until

pytestmark = pytest.mark.postgres


def _killed_mid_task(stack, where: str) -> None:
    """Start a worker that stops at ``where``, send one webhook, and kill the
    worker while its transaction is open."""
    reached = stack.tmp / "reached"
    doomed = stack.worker(
        "doomed", app="tests.faults.paused_worker", FAULT_PAUSE_AT=where, FAULT_REACHED_FILE=str(reached)
    )
    status, answer = stack.post(message(1))
    assert status == 202, answer
    wait_until(reached.exists, timeout=40, what=f"the worker did not reach the middle of {where}", stack=stack)
    open_transactions = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state LIKE 'idle in trans%%'"
    assert stack.count(open_transactions, stack.database) == 1  # truly mid-work: its transaction is open
    stack.kill(doomed)


def _finished_once(stack) -> None:
    wait_until(
        lambda: stack.count("SELECT count(*) FROM routing_offer") > 0,
        timeout=40,
        what="no offer was made after the worker died",
        stack=stack,
    )
    assert stack.sql("SELECT status, attempts FROM connectors_inboundevent") == [("processed", 1)]
    assert stack.sql("SELECT status FROM cases_case") == [("offered",)]
    assert stack.count("SELECT count(*) FROM cases_message") == 1
    assert stack.sql("SELECT status FROM routing_offer") == [("pending",)]


def test_worker_killed_in_the_middle_of_ingestion(fault_stack):
    stack = fault_stack
    stack.seed()
    stack.web()
    _killed_mid_task(stack, "ingest")

    # Nothing half-done was kept: the event waits, unprocessed and not lost.
    assert stack.sql("SELECT status, attempts FROM connectors_inboundevent") == [("received", 0)]
    assert stack.count("SELECT count(*) FROM cases_case") == 0

    # Its task message died with the worker (unacknowledged, hidden from
    # other workers for an hour): the periodic scan finds the event.
    stack.worker("survivor")
    stack.beat()
    _finished_once(stack)


def test_worker_killed_in_the_middle_of_routing(fault_stack):
    stack = fault_stack
    stack.seed()
    stack.web()
    _killed_mid_task(stack, "routing")

    # Ingested and committed; the offer being written was rolled back.
    assert stack.sql("SELECT status, attempts FROM connectors_inboundevent") == [("processed", 1)]
    assert stack.sql("SELECT status FROM cases_case") == [("queued",)]
    assert stack.count("SELECT count(*) FROM routing_offer") == 0

    stack.worker("survivor")
    stack.beat()
    _finished_once(stack)


def test_pool_process_killed_mid_ingestion_is_run_again_by_the_worker(fault_stack):
    """Only the pool process dies (out of memory, say): its worker sees the
    task lost and puts it back (acks late, reject on worker lost); a new pool
    process runs it. No periodic scan here: the redelivery alone finishes it."""
    stack = fault_stack
    stack.seed()
    stack.web()
    reached = stack.tmp / "reached"
    stack.worker(
        "worker",
        app="tests.faults.paused_worker",
        FAULT_PAUSE_AT="ingest",
        FAULT_REACHED_FILE=str(reached),
        SWITCHBOARD_INBOUND_RETRY_AFTER_SECONDS="3600",
    )
    assert stack.post(message(1))[0] == 202
    wait_until(reached.exists, timeout=40, what="the worker did not reach the middle of ingestion", stack=stack)
    os.kill(int(reached.read_text()), signal.SIGKILL)

    _finished_once(stack)
