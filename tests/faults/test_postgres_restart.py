"""PostgreSQL stopped hard (``pg_ctl -m immediate``: as if it crashed) while
webhooks keep coming, then started again: while it is down requests get a
clear 503 with ``Retry-After``; after, every process reconnects by itself
(no restart), what was acknowledged is processed, and nothing is half-written."""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults.stack import message, wait_until

pytestmark = pytest.mark.postgres


class Sender(threading.Thread):
    """Posts new messages one after another until stopped, as a provider would."""

    def __init__(self, stack, first: int) -> None:
        super().__init__(daemon=True)
        self.stack, self.n = stack, first
        self.answers: dict[int, tuple[int, dict]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.answers[self.n] = self.stack.post(message(self.n))
            except OSError as exc:  # no answer at all: the sender retries it like a 503
                self.answers[self.n] = (0, {"error": str(exc)})
            self.n += 1
            time.sleep(0.05)


def _accepted_after_retries(stack, n: int, tries: int = 20) -> int:
    """A provider's retries of one message: its final status."""
    for _ in range(tries):
        status, _ = stack.post(message(n))
        if status in (200, 202):
            return status
        time.sleep(0.5)
    return status


def test_postgres_restart_answers_503_then_recovers_with_nothing_half_written(fault_stack):
    stack = fault_stack
    stack.seed(agents=2)
    stack.web()
    stack.worker("worker")
    stack.beat()
    assert stack.post(message(1))[0] == 202
    wait_until(lambda: stack.count("SELECT count(*) FROM routing_offer") == 1, timeout=30, what="no offer", stack=stack)

    sender = Sender(stack, first=2)
    sender.start()
    time.sleep(2)
    stack.postgres.stop("immediate")
    time.sleep(1)
    status, answer = stack.post(message(1000))
    ready, checks = stack.request("GET", "/readyz")
    time.sleep(1)
    stack.postgres.start()
    time.sleep(2)
    sender.stopping.set()
    sender.join(timeout=30)

    # While it was down: a clear 503 saying to retry, not a 500 or a hang.
    assert status == 503 and answer["error"] == "database_unavailable" and answer["retry_after"]
    assert ready == 503 and checks["checks"]["database"].startswith("failed")
    statuses = {status for status, _ in sender.answers.values()}
    assert statuses <= {202, 503, 0}, sender.answers
    assert 503 in statuses

    # After: the provider retries what was not acknowledged, and gets through.
    for n, (status, _) in sender.answers.items():
        if status != 202:
            assert _accepted_after_retries(stack, n) in (200, 202)
    assert _accepted_after_retries(stack, 1000) in (200, 202)
    # ... and every process uses the database again without being restarted.
    assert [stack.post(message(n))[0] for n in range(2000, 2010)] == [202] * 10

    sent = {f"m-{n}" for n in [1, 1000, *sender.answers, *range(2000, 2010)]}
    wait_until(
        lambda: stack.count("SELECT count(*) FROM routing_offer") == len(sent),
        timeout=40,
        what=f"not all {len(sent)} messages were routed after the restart",
        stack=stack,
    )
    events = stack.sql("SELECT dedupe_key, status, message_id IS NOT NULL FROM connectors_inboundevent")
    assert sorted(key for key, _, _ in events) == sorted(sent)  # each stored once
    assert {(status, linked) for _, status, linked in events} == {("processed", True)}
    # Nothing half-written: each case with its customer's message and one offer.
    assert stack.count("SELECT count(*) FROM cases_case") == len(sent)
    assert (
        stack.count(
            "SELECT count(*) FROM cases_case c WHERE NOT EXISTS (SELECT 1 FROM cases_message m WHERE m.case_id = c.id)"
        )
        == 0
    )
    assert stack.sql("SELECT count(DISTINCT case_id), count(*) FROM routing_offer WHERE status = 'pending'") == [
        (len(sent), len(sent))
    ]
